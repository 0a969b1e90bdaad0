// CbsLink against a scripted CBS node over an in-memory Proton connection (no socket): the
// put-token request carries what IoT Hub reads, replies reach the right answer by correlation
// id, and a reply IoT Hub would not send (a status of another type, none at all) is a refusal
// with a reason instead of an exception inside Proton's dispatch.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/scalar.hpp>
#include <proton/sender.hpp>

#include "bridge/cbs_link.hpp"
#include "proton_pair.hpp"

namespace iotgw::bridge {
namespace {

// The gateway's side: a CbsLink opened with the connection, fed what arrives.
class Client final : public proton::messaging_handler {
 public:
  CbsLink cbs;
  void on_connection_open(proton::connection& c) override { cbs.open(c); }
  void on_message(proton::delivery& d, proton::message& m) override {
    if (!cbs.on_message(d, m)) d.release();
  }
};

// IoT Hub's side: keeps each put-token request and answers it with what the test scripted.
class FakeCbs final : public proton::messaging_handler {
 public:
  struct Request {
    std::string correlation, operation, type, name, token;
  };
  std::vector<Request> requests;
  // The reply's application properties; nothing scripted: no reply at all.
  std::optional<std::map<std::string, proton::scalar>> reply;
  std::string reply_correlation;  // empty: the request's own id

  void on_sender_open(proton::sender& s) override {
    if (!s.active()) s.open();
    replies_ = s;
  }
  void on_message(proton::delivery& d, proton::message& m) override {
    Request r{proton::to_string(m.id()), prop(m, "operation"), prop(m, "type"), prop(m, "name"),
              proton::get<std::string>(m.body())};
    requests.push_back(r);
    d.accept();
    if (!reply) return;
    proton::message answer;
    answer.correlation_id(
        proton::message_id(reply_correlation.empty() ? r.correlation : reply_correlation));
    for (const auto& [k, v] : *reply) answer.properties().put(k, v);
    replies_.send(answer);
  }

 private:
  static std::string prop(const proton::message& m, const std::string& key) {
    return m.properties().exists(key) ? proton::get<std::string>(m.properties().get(key)) : "";
  }
  proton::sender replies_;
};

struct Answers {
  std::vector<CbsLink::Reply> got;
  CbsLink::Answer keep() {
    return [this](const CbsLink::Reply& r) { got.push_back(r); };
  }
};

// One put-token for h/devices/d to a hub that replies with `reply` (under `correlation`, or the
// request's own id): what the hub got, what came back, and how many puts still wait.
struct Exchange {
  std::vector<FakeCbs::Request> requests;
  std::vector<CbsLink::Reply> answers;
  std::size_t waiting;
};
Exchange put_once(const std::map<std::string, proton::scalar>& reply,
                  const std::string& correlation = "") {
  Client client;
  FakeCbs hub;
  hub.reply = reply;
  hub.reply_correlation = correlation;
  test::ProtonPair pair(client, hub);
  Answers answers;
  client.cbs.put_token("h/devices/d", "SharedAccessSignature sr=x", answers.keep());
  pair.run();
  return {hub.requests, answers.got, client.cbs.waiting()};
}

TEST(CbsLink, PutsTheTokenAsIotHubReadsIt) {
  const auto x = put_once({{"status-code", std::int32_t{200}}, {"status-description", "OK"}});
  ASSERT_EQ(x.requests.size(), 1U);
  EXPECT_EQ(x.requests[0].operation, "put-token");
  EXPECT_EQ(x.requests[0].type, "servicebus.windows.net:sastoken");
  EXPECT_EQ(x.requests[0].name, "h/devices/d");
  EXPECT_EQ(x.requests[0].token, "SharedAccessSignature sr=x");
  ASSERT_EQ(x.answers.size(), 1U);
  EXPECT_TRUE(x.answers[0].ok());
  EXPECT_EQ(x.answers[0].status, 200);
  EXPECT_EQ(x.waiting, 0U);
}

TEST(CbsLink, ARefusalKeepsTheHubsReason) {
  const auto x =
      put_once({{"status-code", std::int32_t{401}}, {"status-description", "token expired"}});
  ASSERT_EQ(x.answers.size(), 1U);
  EXPECT_FALSE(x.answers[0].ok());
  EXPECT_EQ(x.answers[0].status, 401);
  EXPECT_EQ(x.answers[0].description, "token expired");
}

TEST(CbsLink, AStatusOfAnotherIntegerTypeIsRead) {
  for (const proton::scalar& status :
       {proton::scalar(std::int64_t{202}), proton::scalar(std::uint16_t{202}),
        proton::scalar(std::uint8_t{202})}) {
    const auto x = put_once({{"status-code", status}});
    ASSERT_EQ(x.answers.size(), 1U) << proton::to_string(status);
    EXPECT_TRUE(x.answers[0].ok()) << proton::to_string(status);
  }
}

TEST(CbsLink, AReplyIotHubWouldNotSendIsARefusalWithAReason) {
  const std::vector<std::pair<std::map<std::string, proton::scalar>, std::string>> cases = {
      {{{"status-code", std::string("200")}},
       "the hub's CBS reply has a status-code that is not a number: 200"},
      {{{"status-description", std::string("fine")}}, "fine"},
      {{}, "the hub's CBS reply has no status-code"},
  };
  for (const auto& [props, reason] : cases) {
    const auto x = put_once(props);
    ASSERT_EQ(x.answers.size(), 1U) << reason;
    EXPECT_FALSE(x.answers[0].ok()) << reason;
    EXPECT_EQ(x.answers[0].description, reason);
  }
}

TEST(CbsLink, AReplyToNoRequestOfOursIsTakenAndIgnored) {
  const auto x = put_once({{"status-code", std::int32_t{200}}}, "put-token-999");
  EXPECT_TRUE(x.answers.empty());
  EXPECT_EQ(x.waiting, 1U);  // still waiting for its own reply
}

TEST(CbsLink, EachReplyAnswersItsOwnRequest) {
  Client client;
  FakeCbs hub;  // answers nothing yet
  test::ProtonPair pair(client, hub);
  std::vector<std::string> order;
  client.cbs.put_token("h/devices/a", "ta",
                       [&](const CbsLink::Reply&) { order.emplace_back("a"); });
  client.cbs.put_token("h/devices/b", "tb",
                       [&](const CbsLink::Reply&) { order.emplace_back("b"); });
  pair.run();
  ASSERT_EQ(hub.requests.size(), 2U);
  EXPECT_NE(hub.requests[0].correlation, hub.requests[1].correlation);
  // Answered in the other order: each goes to its own request.
  hub.reply = {{{"status-code", std::int32_t{200}}}};
  hub.reply_correlation = hub.requests[1].correlation;
  client.cbs.put_token("h/devices/c", "tc",
                       [&](const CbsLink::Reply&) { order.emplace_back("c"); });
  pair.run();
  EXPECT_EQ(order, std::vector<std::string>{"b"});
}

TEST(CbsLink, ALostConnectionForgetsWhatWasNotAnswered) {
  Client client;
  FakeCbs hub;
  test::ProtonPair pair(client, hub);
  Answers answers;
  client.cbs.put_token("h/devices/d", "t", answers.keep());
  pair.run();
  EXPECT_EQ(client.cbs.waiting(), 1U);
  client.cbs.reset();
  EXPECT_EQ(client.cbs.waiting(), 0U);
  EXPECT_FALSE(client.cbs.is_open());
  client.cbs.put_token("h/devices/d", "t", answers.keep());  // no link: nothing goes out
  EXPECT_EQ(client.cbs.waiting(), 0U);
}

}  // namespace
}  // namespace iotgw::bridge
