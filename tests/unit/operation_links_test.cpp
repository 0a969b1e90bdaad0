// TwinLinks and MethodLinks against a scripted IoT Hub over an in-memory Proton connection (no
// socket): when each link pair attaches and with what, how requests and answers are correlated,
// and what a device hears when the hub is late, closes a link or the connection goes.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>
#include <proton/source.hpp>
#include <proton/target.hpp>

#include "bridge/method_links.hpp"
#include "bridge/twin_links.hpp"
#include "iotgw/common/amqp_text.hpp"
#include "proton_pair.hpp"

namespace iotgw::bridge {
namespace {

std::string property(const proton::link& l, const char* key) {
  const auto props = l.properties();
  auto it = props.find(proton::symbol(key));
  return it == props.end() ? "" : amqp_text(it->second);
}

// The hub's side: the links devices attach (by address), and every message they sent.
class FakeHub final : public proton::messaging_handler {
 public:
  std::map<std::string, proton::sender> out;  // to the device's receiver, by address
  std::map<std::string, proton::receiver> in;
  std::vector<proton::message> got;
  bool refuse = false;  // refuse the next attaches

  void on_sender_open(proton::sender& s) override {
    if (refuse) {  // as iotgw-hub refuses: closed unopened, so the attach names no source
      s.close(proton::error_condition("amqp:unauthorized-access", "no token"));
      return;
    }
    if (!s.active()) s.open();
    out[s.source().address()] = s;
  }
  void on_receiver_open(proton::receiver& r) override {
    if (!r.active()) r.open();
    in[r.target().address()] = r;
  }
  void on_message(proton::delivery&, proton::message& m) override { got.push_back(m); }
  void on_error(const proton::error_condition&) override {}

  std::string annotation(std::size_t i, const char* key) const {
    const auto& a = got.at(i).message_annotations();
    const proton::annotation_key k{proton::symbol(key)};
    return a.exists(k) ? amqp_text(a.get(k)) : "";
  }
  void answer(const std::string& address, const proton::message& request, int status,
              std::int64_t version, const std::string& body) {
    proton::message m;
    m.correlation_id(request.correlation_id());
    m.message_annotations().put(proton::annotation_key(proton::symbol("status")), status);
    if (version >= 0) {
      m.message_annotations().put(proton::annotation_key(proton::symbol("version")), version);
    }
    m.body(proton::binary(body.begin(), body.end()));
    out.at(address).send(m);
  }
};

constexpr const char* kTwin = "/devices/dev1/twin";
constexpr const char* kMethods = "/devices/dev1/methods/devicebound";

// The gateway's side: both units fed the connection's events.
class Client final : public proton::messaging_handler {
 public:
  Client()
      : twin(
            "/devices/{deviceId}/twin",
            [this](const std::string& d, const HubRequest& r) {
              told.push_back({d, r});
            },
            [this](const std::string& d, const std::string& w) { warned.push_back(d + ": " + w); }),
        methods(
            "/devices/{deviceId}/methods/devicebound",
            [this](const std::string& d, const HubRequest& r) {
              told.push_back({d, r});
            },
            [this](const std::string& d, const std::string& w) {
              warned.push_back(d + ": " + w);
            }) {}

  TwinLinks twin;
  MethodLinks methods;
  std::vector<std::pair<std::string, HubRequest>> told;
  std::vector<std::string> warned;
  proton::connection connection;

  void on_connection_open(proton::connection& c) override { connection = c; }
  void on_message(proton::delivery& d, proton::message& m) override {
    if (!twin.on_message(d, m) && !methods.on_message(d, m)) d.release();
  }
  void on_sender_open(proton::sender& s) override { methods.on_sender_open(s); }
  void on_receiver_close(proton::receiver& r) override {
    if (!twin.on_link_close(r)) methods.on_link_close(r);
  }
  void on_sender_close(proton::sender& s) override {
    if (!twin.on_link_close(s)) methods.on_link_close(s);
  }
  void on_error(const proton::error_condition&) override {}
};

struct Scripted {
  Scripted() : pair(client, hub) {}
  FakeHub hub;
  Client client;
  test::ProtonPair pair;
  std::optional<OperationResult> result;
  OperationDone keep() {
    return [this](OperationResult r) { result = std::move(r); };
  }
  void twin(iotgw_op_kind kind, const std::string& body = {}, std::int64_t now = 0) {
    result.reset();
    client.twin.request(client.connection, "dev1",
                        {.kind = kind, .body = body, .timeout = std::chrono::seconds(5)}, now,
                        keep());
    pair.run();
  }
};

TEST(TwinLinks, NoLinkUntilTheFirstRequestThenAPreSettledPairWithAChannelId) {
  Scripted s;
  EXPECT_TRUE(s.hub.out.empty());
  EXPECT_FALSE(s.client.twin.has_links("dev1"));
  s.twin(IOTGW_OP_TWIN_GET);
  ASSERT_EQ(s.hub.out.count(kTwin), 1U);
  ASSERT_EQ(s.hub.in.count(kTwin), 1U);
  const auto channel = property(s.hub.in[kTwin], "com.microsoft:channel-correlation-id");
  EXPECT_EQ(channel.rfind("twin:", 0), 0U) << channel;
  EXPECT_EQ(property(s.hub.out[kTwin], "com.microsoft:channel-correlation-id"), channel);
}

TEST(TwinLinks, ARequestCarriesOperationResourceAndIdAndHearsItsAnswer) {
  Scripted s;
  s.twin(IOTGW_OP_TWIN_GET);
  ASSERT_EQ(s.hub.got.size(), 1U);
  EXPECT_EQ(s.hub.annotation(0, "operation"), "GET");
  EXPECT_EQ(s.hub.annotation(0, "resource"), "");
  EXPECT_EQ(amqp_text(s.hub.got[0].body()), " ");  // IoT Hub takes no empty body
  EXPECT_TRUE(s.hub.got[0].inferred());            // a data section, as Azure's SDKs send it
  EXPECT_FALSE(s.result);
  s.hub.answer(kTwin, s.hub.got[0], 200, 4, R"({"desired":{}})");
  s.pair.run();
  ASSERT_TRUE(s.result);
  EXPECT_EQ(s.result->status, 200);
  EXPECT_EQ(s.result->version, 4);
  EXPECT_EQ(s.result->body, R"({"desired":{}})");
  EXPECT_TRUE(s.result->reason.empty());

  s.twin(IOTGW_OP_TWIN_PATCH_REPORTED, R"({"t":1})");
  ASSERT_EQ(s.hub.got.size(), 2U);
  EXPECT_EQ(s.hub.annotation(1, "operation"), "PATCH");
  EXPECT_EQ(s.hub.annotation(1, "resource"), "/properties/reported");
  EXPECT_NE(s.hub.got[1].correlation_id(), s.hub.got[0].correlation_id());
  s.hub.answer(kTwin, s.hub.got[1], 204, 2, "");
  s.pair.run();
  ASSERT_TRUE(s.result);
  EXPECT_EQ(s.result->status, 204);
  EXPECT_EQ(s.result->version, 2);
}

TEST(TwinLinks, AMessageWithoutCorrelationIdIsADesiredPatchWithItsVersion) {
  Scripted s;
  s.twin(IOTGW_OP_TWIN_WATCH_DESIRED);
  EXPECT_EQ(s.hub.annotation(0, "operation"), "PUT");
  EXPECT_EQ(s.hub.annotation(0, "resource"), "/notifications/twin/properties/desired");
  proton::message patch(proton::binary(std::string(R"({"fan":true,"$version":7})")));
  s.hub.out.at(kTwin).send(patch);
  s.pair.run();
  ASSERT_EQ(s.client.told.size(), 1U);
  EXPECT_EQ(s.client.told[0].first, "dev1");
  EXPECT_EQ(s.client.told[0].second.kind, IOTGW_HUB_DESIRED_PATCH);
  EXPECT_EQ(s.client.told[0].second.version, 7);  // from the body: IoT Hub annotates none
}

TEST(TwinLinks, ALateAnswerIsA504AndTheAnswerAfterItIsIgnored) {
  Scripted s;
  s.twin(IOTGW_OP_TWIN_GET, {}, 1'000);
  s.client.twin.expire(5'999);
  EXPECT_FALSE(s.result);
  s.client.twin.expire(6'000);
  ASSERT_TRUE(s.result);
  EXPECT_EQ(s.result->status, kStatusTimeout);
  EXPECT_FALSE(s.result->reason.empty());
  s.result.reset();
  s.hub.answer(kTwin, s.hub.got[0], 200, 1, "{}");
  s.pair.run();
  EXPECT_FALSE(s.result);
  EXPECT_EQ(s.client.twin.waiting(), 0U);
}

TEST(TwinLinks, ALostConnectionAnswers503AndRestoreTakesTheWatchBack) {
  Scripted s;
  s.twin(IOTGW_OP_TWIN_WATCH_DESIRED);
  s.hub.answer(kTwin, s.hub.got[0], 200, -1, "");
  s.pair.run();
  s.twin(IOTGW_OP_TWIN_GET);
  s.client.twin.reset();
  ASSERT_TRUE(s.result);
  EXPECT_EQ(s.result->status, kStatusUnavailable);
  EXPECT_FALSE(s.client.twin.has_links("dev1"));
  // Authorised again (here on the same in-memory connection): the pair and the watch come back.
  s.hub.got.clear();
  s.client.twin.restore(s.client.connection, "dev1", 0);
  s.pair.run();
  EXPECT_TRUE(s.client.twin.has_links("dev1"));
  ASSERT_EQ(s.hub.got.size(), 2U);  // the watch, and a read for what changed meanwhile
  EXPECT_EQ(s.hub.annotation(0, "operation"), "PUT");
  EXPECT_EQ(s.hub.annotation(1, "operation"), "GET");
}

// The device's own connection stays up while the bridge reconnects, so it never re-reads its
// twin: a desired change made meanwhile reaches it from the bridge's catch-up read.
TEST(TwinLinks, ADesiredChangeMissedWhileAwayArrivesAfterRestore) {
  Scripted s;
  s.twin(IOTGW_OP_TWIN_WATCH_DESIRED);
  s.hub.answer(kTwin, s.hub.got[0], 200, -1, "");
  s.twin(IOTGW_OP_TWIN_GET);
  s.hub.answer(kTwin, s.hub.got[1], 200, 3, R"({"desired":{"a":1,"$version":3},"reported":{}})");
  s.pair.run();
  auto reconnect_with_desired = [&](const std::string& desired) {
    s.client.twin.reset();
    s.hub.got.clear();
    s.client.told.clear();
    s.client.twin.restore(s.client.connection, "dev1", 0);
    s.pair.run();
    ASSERT_EQ(s.hub.got.size(), 2U);  // the watch, then the read
    EXPECT_EQ(s.hub.annotation(0, "operation"), "PUT");
    EXPECT_EQ(s.hub.annotation(1, "operation"), "GET");
    s.hub.answer(kTwin, s.hub.got[0], 200, -1, "");
    s.hub.answer(kTwin, s.hub.got[1], 200, -1,
                 R"({"desired":)" + desired + R"(,"reported":{"$version":1}})");
    s.pair.run();
  };
  reconnect_with_desired(R"({"a":1,"$version":3})");  // nothing new: nothing told
  EXPECT_TRUE(s.client.told.empty());
  reconnect_with_desired(R"({"a":2,"$version":4})");
  ASSERT_EQ(s.client.told.size(), 1U);
  EXPECT_EQ(s.client.told[0].second.kind, IOTGW_HUB_DESIRED_PATCH);
  EXPECT_EQ(s.client.told[0].second.version, 4);
  EXPECT_EQ(s.client.told[0].second.body, R"({"$version":4,"a":2})");
  EXPECT_FALSE(s.result && s.result->status == 200 &&
               s.result->body.find("\"a\":2") != std::string::npos);  // no device op
}

TEST(TwinLinks, ARestoredDeviceThatWatchesNothingAttachesNothing) {
  Scripted s;
  s.client.twin.restore(s.client.connection, "dev1", 0);
  s.pair.run();
  EXPECT_TRUE(s.hub.out.empty());
}

TEST(TwinLinks, TheHubClosingTheLinkAnswersWhatWaitedWithItsReason) {
  Scripted s;
  s.twin(IOTGW_OP_TWIN_GET);
  s.hub.out.at(kTwin).close(proton::error_condition("amqp:internal-error", "twin store down"));
  s.pair.run();
  ASSERT_TRUE(s.result);
  EXPECT_EQ(s.result->status, kStatusUnavailable);
  EXPECT_NE(s.result->reason.find("twin store down"), std::string::npos) << s.result->reason;
  EXPECT_FALSE(s.client.twin.has_links("dev1"));
}

TEST(TwinLinks, NoConnectionIsA503AndAMethodKindIsA400) {
  Scripted s;
  s.client.twin.request({}, "dev1", {.kind = IOTGW_OP_TWIN_GET}, 0, s.keep());
  ASSERT_TRUE(s.result);
  EXPECT_EQ(s.result->status, kStatusUnavailable);
  s.client.twin.request(s.client.connection, "dev1", {.kind = IOTGW_OP_METHODS_ENABLE}, 0,
                        s.keep());
  EXPECT_EQ(s.result->status, kStatusBadRequest);
}

struct MethodSetup : Scripted {
  void enable() {
    result.reset();
    client.methods.enable(client.connection, "dev1", std::chrono::seconds(5), 0, keep());
    pair.run();
  }
  void call(const std::string& id, const std::string& name, const std::string& body) {
    proton::message m(proton::binary(body.begin(), body.end()));
    m.correlation_id(proton::message_id(id));
    m.properties().put("IoThub-methodname", name);
    hub.out.at(kMethods).send(m);
    pair.run();
  }
};

TEST(MethodLinks, EnablingAnswers200OnceTheHubHasAttachedThePair) {
  MethodSetup s;
  s.enable();
  ASSERT_EQ(s.hub.out.count(kMethods), 1U);
  EXPECT_EQ(
      property(s.hub.out[kMethods], "com.microsoft:channel-correlation-id").rfind("methods:", 0),
      0U);
  ASSERT_TRUE(s.result);
  EXPECT_EQ(s.result->status, 200);
  EXPECT_TRUE(s.client.methods.enabled("dev1"));
}

TEST(MethodLinks, ARefusedAttachAnswers503WithTheHubsReason) {
  MethodSetup s;
  s.hub.refuse = true;
  s.enable();
  ASSERT_TRUE(s.result);
  EXPECT_EQ(s.result->status, kStatusUnavailable);
  EXPECT_NE(s.result->reason.find("no token"), std::string::npos) << s.result->reason;
}

TEST(MethodLinks, ACallReachesTheDeviceAndItsAnswerGoesBackOnce) {
  MethodSetup s;
  s.enable();
  s.call("c-42", "reboot", R"({"delay":1})");
  ASSERT_EQ(s.client.told.size(), 1U);
  const auto call = s.client.told[0].second;
  EXPECT_EQ(call.kind, IOTGW_HUB_METHOD_CALL);
  EXPECT_EQ(call.name, "reboot");
  EXPECT_EQ(call.body, R"({"delay":1})");
  EXPECT_TRUE(s.client.methods.respond("dev1", call.id, 200, R"({"ok":true})"));
  EXPECT_FALSE(s.client.methods.respond("dev1", call.id, 200, "{}"));  // answered already
  EXPECT_FALSE(s.client.methods.respond("dev1", call.id + 1, 200, "{}"));
  s.pair.run();
  ASSERT_EQ(s.hub.got.size(), 1U);
  EXPECT_EQ(proton::to_string(s.hub.got[0].correlation_id()), "c-42");
  EXPECT_EQ(proton::coerce<int>(s.hub.got[0].properties().get("IoThub-status")), 200);
  EXPECT_EQ(amqp_text(s.hub.got[0].body()), R"({"ok":true})");
  EXPECT_TRUE(s.hub.got[0].inferred());  // a data section, as Azure's SDKs send it
}

TEST(MethodLinks, ACallWithoutANameIsNotHandedToTheDevice) {
  MethodSetup s;
  s.enable();
  proton::message m(proton::binary(std::string("{}")));
  m.correlation_id(proton::message_id(std::string("c-1")));
  s.hub.out.at(kMethods).send(m);
  s.pair.run();
  EXPECT_TRUE(s.client.told.empty());
  ASSERT_EQ(s.client.warned.size(), 1U);
}

TEST(MethodLinks, CallsDieWithTheConnectionAndThePairComesBackOnRestore) {
  MethodSetup s;
  s.enable();
  s.call("c-1", "ping", "{}");
  const auto id = s.client.told.at(0).second.id;
  s.client.methods.reset();
  EXPECT_FALSE(s.client.methods.respond("dev1", id, 200, "{}"));
  s.hub.out.clear();
  s.client.methods.restore(s.client.connection, "dev1");
  s.pair.run();
  EXPECT_EQ(s.hub.out.count(kMethods), 1U);
  s.client.methods.disable("dev1");
  s.hub.out.clear();
  s.client.methods.restore(s.client.connection, "dev1");
  s.pair.run();
  EXPECT_TRUE(s.hub.out.empty());  // disabled: nothing comes back
}

}  // namespace
}  // namespace iotgw::bridge
