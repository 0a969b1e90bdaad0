// C2dLinks against a scripted hub or broker over an in-memory Proton connection (no socket):
// what a device's receiver asks for, how deliveries are numbered and marked as redeliveries,
// and which disposition each of the device's answers (or its going away) sends back.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include <proton/annotation_key.hpp>
#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>
#include <proton/session.hpp>
#include <proton/source.hpp>
#include <proton/tracker.hpp>
#include <proton/transfer.hpp>

#include "bridge/c2d_links.hpp"
#include "proton_pair.hpp"

namespace iotgw::bridge {
namespace {

// The hub's side: a sender for each device's receiver, and every disposition that came back.
class FakeHub final : public proton::messaging_handler {
 public:
  std::map<std::string, proton::sender> senders;  // by source address
  std::vector<std::string> outcomes;
  std::map<std::string, enum proton::terminus::durability_mode> durability;  // as attached

  void on_sender_open(proton::sender& s) override {
    if (!s.active()) s.open();
    senders[s.source().address()] = s;
    durability[s.source().address()] = s.source().durability_mode();
  }
  void on_tracker_accept(proton::tracker&) override { outcomes.emplace_back("accepted"); }
  void on_tracker_reject(proton::tracker&) override { outcomes.emplace_back("rejected"); }
  void on_tracker_release(proton::tracker& t) override {
    outcomes.emplace_back(t.state() == proton::transfer::MODIFIED ? "modified" : "released");
  }
  void send(const std::string& address, const proton::message& m) { senders.at(address).send(m); }
};

struct Got {
  std::string device;
  std::uint64_t n;
  std::string body, delivery_count;
};

// The gateway's side: C2dLinks fed the connection's events; deliveries are kept in `got`.
class Client final : public proton::messaging_handler {
 public:
  explicit Client(bool iothub)
      : links(
            {.address = "/c2d/{deviceId}", .iothub = iothub, .durable = true},
            [this](const std::string& device, std::unique_ptr<iotgw_msg> msg, std::uint64_t n) {
              if (!take) return false;
              const auto* count = msg->scope(IOTGW_PROP_SYSTEM).get("delivery-count");
              got.push_back({device, n, std::string(msg->body.begin(), msg->body.end()),
                             count != nullptr ? *count : ""});
              return true;
            },
            [this](const std::string& device, const std::string& why) {
              closed.push_back(device + ": " + why);
            }) {}

  C2dLinks links;
  bool take = true;  // false: the device can take nothing now
  std::vector<Got> got;
  std::vector<std::string> closed;
  proton::connection connection;

  void on_connection_open(proton::connection& c) override { connection = c; }
  void on_message(proton::delivery& d, proton::message& m) override {
    if (!links.on_message(d, m)) d.release();
  }
  void on_receiver_close(proton::receiver& r) override { links.on_receiver_close(r); }
  // Proton's default throws; the gateway logs it (HubConnection::on_error).
  void on_error(const proton::error_condition&) override {}
  void on_session_error(proton::session& s) override { links.on_session_error(s); }
};

// A device's receiver attached to the hub, ready for messages.
struct Attached {
  explicit Attached(bool iothub) : client(iothub), pair(client, hub) {
    client.links.open(client.connection, "dev1");
    pair.run();
  }
  FakeHub hub;
  Client client;
  test::ProtonPair pair;
};

// As RabbitMQ sends a first delivery: the header says no one acquired it before. (Proton's
// default, and AMQP's, is false: "may have been acquired".)
proton::message fresh(const std::string& body) {
  proton::message m(body);
  m.first_acquirer(true);
  return m;
}

proton::message redelivered(const std::string& body) {
  proton::message m(body);
  m.first_acquirer(false);  // RabbitMQ's only mark of a redelivery
  return m;
}

TEST(C2dLinks, AReceiverAsksForSixteenAndSettlesNothingItself) {
  Attached s(false);
  ASSERT_EQ(s.hub.senders.count("/c2d/dev1"), 1U);
  EXPECT_EQ(s.hub.senders["/c2d/dev1"].credit(), 16);
  EXPECT_EQ(s.hub.durability["/c2d/dev1"], proton::terminus::CONFIGURATION);
  s.hub.send("/c2d/dev1", proton::message("one"));
  s.pair.run();
  ASSERT_EQ(s.client.got.size(), 1U);
  EXPECT_EQ(s.client.got[0].body, "one");
  EXPECT_TRUE(s.hub.outcomes.empty());  // nothing until the device answers
  s.client.links.settle("dev1", s.client.got[0].n, IOTGW_ACCEPTED);
  s.pair.run();
  EXPECT_EQ(s.hub.outcomes, std::vector<std::string>{"accepted"});
}

TEST(C2dLinks, EachAnswerSendsItsDisposition) {
  for (const bool iothub : {true, false}) {
    Attached s(iothub);
    for (const char* body : {"a", "b", "c", "d"}) s.hub.send("/c2d/dev1", proton::message(body));
    s.pair.run();
    ASSERT_EQ(s.client.got.size(), 4U);
    s.client.links.settle("dev1", s.client.got[0].n, IOTGW_ACCEPTED);
    s.client.links.settle("dev1", s.client.got[1].n, IOTGW_REJECTED);
    s.client.links.settle("dev1", s.client.got[2].n, IOTGW_RELEASED);
    // RabbitMQ ends the session on `modified`: a broker is told `released`, which means the same.
    s.client.links.settle("dev1", s.client.got[3].n, IOTGW_MODIFIED);
    s.client.links.settle("dev1", s.client.got[3].n, IOTGW_ACCEPTED);  // settled once only
    s.pair.run();
    // Proton reports dispositions in its own order, not the order they were sent.
    std::multiset<std::string> outcomes(s.hub.outcomes.begin(), s.hub.outcomes.end());
    EXPECT_EQ(outcomes, (std::multiset<std::string>{"accepted", "rejected", "released",
                                                    iothub ? "modified" : "released"}))
        << (iothub ? "iothub" : "broker");
  }
}

TEST(C2dLinks, ARedeliveryIsCountedFromTheHeaderOrIotHubsAnnotation) {
  Attached broker(false);
  broker.hub.send("/c2d/dev1", fresh("first"));
  broker.hub.send("/c2d/dev1", redelivered("again"));
  broker.pair.run();
  ASSERT_EQ(broker.client.got.size(), 2U);
  EXPECT_EQ(broker.client.got[0].delivery_count, "0");
  EXPECT_EQ(broker.client.got[1].delivery_count, "1");

  Attached hub(true);  // IoT Hub leaves first-acquirer false on every message: it says nothing
  auto m = redelivered("counted");
  hub.hub.send("/c2d/dev1", redelivered("plain"));
  m.message_annotations().put(proton::annotation_key(proton::symbol("iothub-deliverycount")),
                              std::int32_t{3});
  hub.hub.send("/c2d/dev1", m);
  hub.pair.run();
  ASSERT_EQ(hub.client.got.size(), 2U);
  EXPECT_EQ(hub.client.got[0].delivery_count, "0");
  EXPECT_EQ(hub.client.got[1].delivery_count, "3");
}

TEST(C2dLinks, WhatTheDeviceCannotTakeGoesBackToTheHub) {
  Attached s(true);
  s.client.take = false;
  s.hub.send("/c2d/dev1", proton::message("no room"));
  s.pair.run();
  EXPECT_TRUE(s.client.got.empty());
  EXPECT_EQ(s.hub.outcomes, std::vector<std::string>{"released"});
}

TEST(C2dLinks, ADeviceGoneReleasesWhatItDidNotSettle) {
  Attached s(false);
  s.hub.send("/c2d/dev1", proton::message("x"));
  s.hub.send("/c2d/dev1", proton::message("y"));
  s.pair.run();
  ASSERT_EQ(s.client.got.size(), 2U);
  s.client.links.settle("dev1", s.client.got[0].n, IOTGW_ACCEPTED);
  s.client.links.remove("dev1");
  s.pair.run();
  std::multiset<std::string> outcomes(s.hub.outcomes.begin(), s.hub.outcomes.end());
  EXPECT_EQ(outcomes, (std::multiset<std::string>{"accepted", "released"}));
  EXPECT_FALSE(s.client.links.is_open("dev1"));
  s.client.links.settle("dev1", s.client.got[1].n, IOTGW_ACCEPTED);  // too late: nothing
  s.pair.run();
  EXPECT_EQ(s.hub.outcomes.size(), 2U);
}

TEST(C2dLinks, NumbersKeepRisingAcrossLinksSoALateAnswerHitsNothingNew) {
  Attached s(true);
  s.hub.send("/c2d/dev1", proton::message("old"));
  s.pair.run();
  ASSERT_EQ(s.client.got.size(), 1U);
  s.client.links.close("dev1");  // the device unsubscribed
  s.pair.run();
  s.client.links.open(s.client.connection, "dev1");
  s.pair.run();
  s.hub.send("/c2d/dev1", proton::message("new"));
  s.pair.run();
  ASSERT_EQ(s.client.got.size(), 2U);
  EXPECT_GT(s.client.got[1].n, s.client.got[0].n);
  s.client.links.settle("dev1", s.client.got[0].n, IOTGW_ACCEPTED);  // the old link's
  s.pair.run();
  EXPECT_TRUE(s.hub.outcomes.empty());  // its link is gone: the hub has it back already
  s.client.links.settle("dev1", s.client.got[1].n, IOTGW_ACCEPTED);
  s.pair.run();
  EXPECT_EQ(s.hub.outcomes.back(), "accepted");
}

TEST(C2dLinks, TheHubClosingALinkIsReportedWithItsReason) {
  Attached s(true);
  s.hub.senders["/c2d/dev1"].close(
      proton::error_condition("amqp:unauthorized-access", "token expired"));
  s.pair.run();
  ASSERT_EQ(s.client.closed.size(), 1U);
  EXPECT_EQ(s.client.closed[0],
            "dev1: the hub closed its C2D link: amqp:unauthorized-access: token expired");
  EXPECT_FALSE(s.client.links.is_open("dev1"));
}

}  // namespace
}  // namespace iotgw::bridge
