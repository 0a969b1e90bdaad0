// Flavour `amqp` against a real RabbitMQ with its AMQP 1.0 plugin: the connection logs in with
// SASL PLAIN, each message goes to the address the pipeline gave it (or the default template),
// marked with its device; an address the broker refuses fails only the messages sent there;
// the map stage turns an MQTT topic into the address; messages put on a device's C2D address
// reach the device, and again, marked DUP, when it did not acknowledge them; every message an
// MQTT device had PUBACKed is still in the broker's queue after the broker crashed.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <thread>

#include "broker_under_test.hpp"
#include "gateway_fixture.hpp"
#include "line_client.hpp"

namespace iotgw::test {
namespace {

const std::string kDevice = (kSourceDir / "tests/integration/mqtt_device.py").string();

// Listener `plain` sends to the default template; `mapped` has a stage that names the target
// (as a stage may); `lost` names an exchange the broker does not have; `sensors` takes MQTT on
// topics of its own and the map stage makes each its address. One loop, so every device shares
// one broker connection. `mqtt` serves IoT Hub's topics, so its telemetry goes to the
// template's address. `bridge_more` adds bridge keys ("  durable: false\n").
std::string topology(const BrokerUnderTest& broker, const std::string& bridge_more = "") {
  return "gateway: {plugins_dir: plugins, threads: 1}\n"
         "bridge:\n"
         "  flavour: amqp\n"
         "  url: " +
         broker.url() +
         "\n"
         "  sasl: plain\n"
         "  user: guest\n"
         "  password: guest\n"
         "  telemetry_address: /queue/telemetry\n"
         "  c2d_address: /queue/c2d.{deviceId}\n" +
         bridge_more +
         "stages:\n"
         "  - {name: to-mapped, plugin: tag, config: {property: system.to=/queue/mapped}}\n"
         "  - {name: to-nowhere, plugin: tag, config: {property: system.to=/exchange/nowhere/x}}\n"
         "  - {name: rooms, plugin: map, config: {topic: 'sensors/{building}/{room}', "
         "to: '/queue/{building}.{room}'}}\n"
         "listeners:\n"
         "  - {name: plain, adapter: line, bind: '127.0.0.1:0'}\n"
         "  - {name: mapped, adapter: line, bind: '127.0.0.1:0', pipeline: [to-mapped]}\n"
         "  - {name: lost, adapter: line, bind: '127.0.0.1:0', pipeline: [to-nowhere]}\n"
         "  - {name: sensors, adapter: mqtt, bind: '127.0.0.1:0', pipeline: [rooms],\n"
         "     options: {other_topics: map}}\n"
         "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0'}\n";
}

std::multiset<std::string> lines_of(const std::string& text, const std::string& prefix = "") {
  std::multiset<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.insert(line.substr(prefix.size()));
  }
  return out;
}

TEST(BridgeAmqp, RabbitMqGetsEachMessageAtItsAddressWithItsDevice) {
  BrokerUnderTest broker;
  GatewayUnderTest gw(topology(broker));
  LineClient a(gw.port("plain"));
  LineClient b(gw.port("mapped"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  EXPECT_EQ(b.hello("dev2"), "WELCOME dev2");
  a.send_line("by template");
  b.send_line("by mapping");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "ACK 1") << gw.process().output();
  EXPECT_EQ(b.read_line(std::chrono::seconds(10)), "ACK 1") << gw.process().output();

  const auto telemetry = broker.receive("/queue/telemetry", 1);
  EXPECT_EQ(telemetry.code, 0) << telemetry.output;
  EXPECT_NE(telemetry.output.find(R"("body": "by template", "to": "/queue/telemetry")"),
            std::string::npos)
      << telemetry.output;
  EXPECT_NE(telemetry.output.find(R"("device": "dev1", "durable": true)"), std::string::npos)
      << telemetry.output;
  const auto mapped = broker.receive("/queue/mapped", 1);
  EXPECT_EQ(mapped.code, 0) << mapped.output;
  EXPECT_NE(mapped.output.find(R"("body": "by mapping", "to": "/queue/mapped")"), std::string::npos)
      << mapped.output;
  EXPECT_NE(mapped.output.find(R"("device": "dev2")"), std::string::npos) << mapped.output;
}

TEST(BridgeAmqp, AnAddressTheBrokerRefusesFailsOnlyWhatWasSentThere) {
  BrokerUnderTest broker;
  GatewayUnderTest gw(topology(broker));
  LineClient a(gw.port("plain"));
  LineClient lost(gw.port("lost"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  EXPECT_EQ(lost.hello("dev3"), "WELCOME dev3");
  lost.send_line("to nowhere");
  const auto nack = lost.read_line(std::chrono::seconds(10));
  ASSERT_TRUE(nack) << gw.process().output();
  EXPECT_EQ(nack->rfind("NACK 1 the hub refused /exchange/nowhere/x: amqp:not-found", 0), 0U)
      << *nack;
  a.send_line("still flowing");  // the same hub connection, another session
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "ACK 1") << gw.process().output();
  const auto telemetry = broker.receive("/queue/telemetry", 1);
  EXPECT_NE(telemetry.output.find(R"("body": "still flowing")"), std::string::npos)
      << telemetry.output;
}

TEST(BridgeAmqp, AMappedTopicGoesToTheAddressItsTemplateMakes) {
  BrokerUnderTest broker;
  GatewayUnderTest gw(topology(broker));
  const auto pub =
      run("/usr/bin/mosquitto_pub",
          {"-h", "127.0.0.1", "-p", std::to_string(gw.port("sensors")), "-V", "mqttv311", "-i",
           "dev4", "-q", "1", "-t", "sensors/b7/lobby", "-m", "21.5"},
          std::chrono::seconds(20));
  ASSERT_EQ(pub.code, 0) << pub.output << gw.process().output();
  const auto got = broker.receive("/queue/b7.lobby", 1);
  EXPECT_EQ(got.code, 0) << got.output;
  EXPECT_NE(got.output.find(R"("body": "21.5", "to": "/queue/b7.lobby")"), std::string::npos)
      << got.output;
  EXPECT_NE(got.output.find(R"("building": "b7", "room": "lobby")"), std::string::npos)
      << got.output;
  EXPECT_NE(got.output.find(R"("device": "dev4")"), std::string::npos) << got.output;
}

TEST(BridgeAmqp, MessagesOnTheDevicesC2dAddressReachTheDevice) {
  BrokerUnderTest broker;
  GatewayUnderTest gw(topology(broker));
  LineClient a(gw.port("plain"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  const auto sent = broker.send("/queue/c2d.dev1", "switch on");
  EXPECT_EQ(sent.code, 0) << sent.output;
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "MSG switch on") << gw.process().output();
}

TEST(BridgeAmqp, AC2dMessageNotAcknowledgedComesAgainFromRabbitMqWithDup) {
  BrokerUnderTest broker;
  GatewayUnderTest gw(topology(broker));
  TempDir dir;
  Process device("/usr/bin/python3",
                 {kDevice, "c2d-abandon", std::to_string(gw.port("mqtt")), "dev1", "any"},
                 dir / "device.log");
  ASSERT_TRUE(device.wait_for("subscribed", std::chrono::seconds(20))) << device.output();
  EXPECT_EQ(broker.send("/queue/c2d.dev1", "once more").code, 0);
  // RabbitMQ says a redelivery only by the header's first-acquirer (no delivery-count).
  EXPECT_TRUE(device.wait_for("first dup=0 once more")) << device.output();
  EXPECT_TRUE(device.wait_for("again dup=1 once more")) << device.output() << gw.process().output();
  EXPECT_EQ(device.wait_exit(std::chrono::seconds(20)), 0) << device.output();
  // The PUBACK completed it: the broker has it no more.
  const auto left = broker.drain("/queue/c2d.dev1");
  EXPECT_NE(left.output.find("drained 0"), std::string::npos) << left.output;
}

// RabbitMQ SIGKILLed in the middle of a QoS 1 stream and started again on its data: every
// message the device heard PUBACK for is in the (durable) queue, checked one by one; a message
// in flight at the crash may be there twice, since the gateway sends again what got no answer.
TEST(BridgeAmqp, BrokerKilledDuringAQoS1StreamKeepsEveryPubackedMessage) {
  // Paced, so the crash falls mid-stream however slow the machine: some 4 s of stream, the
  // crash after the first 300.
  constexpr int kMessages = 6000, kRate = 1500;
  BrokerUnderTest broker;
  // An operator's durable queue, there before any traffic. RabbitMQ writes a new queue's
  // declaration to disk only a moment later (Mnesia's delayed log write): one SIGKILLed in that
  // window is gone after the restart, with everything confirmed into it. A clean restart
  // settles it, as any long-lived queue is settled.
  ASSERT_EQ(broker.declare_durable("/queue/telemetry").code, 0);
  broker.stop();
  broker.restart();
  GatewayUnderTest gw(topology(broker));
  TempDir dir;
  Process device("/usr/bin/python3",
                 {kDevice, "paho-window", std::to_string(gw.port("mqtt")), "dev1", "any",
                  std::to_string(kMessages), std::to_string(kRate)},
                 dir / "device.log");
  ASSERT_TRUE(device.wait_for("acked m-300\n", std::chrono::seconds(60)))
      << device.output() << gw.process().output();
  broker.kill();
  ASSERT_TRUE(gw.process().wait_for("hub connection lost")) << gw.process().output();
  // With the broker gone nothing more is acknowledged (what it accepted before may still be on
  // its way to the device).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto acked_at_crash = device.count("acked m-");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(device.count("acked m-"), acked_at_crash);
  EXPECT_LT(acked_at_crash, static_cast<std::size_t>(kMessages));  // the crash was mid-stream
  broker.restart();
  EXPECT_EQ(device.wait_exit(std::chrono::seconds(90)), 0)
      << device.output() << gw.process().output();

  const auto acked = lines_of(device.output(), "acked ");
  const auto drained = broker.drain("/queue/telemetry");
  ASSERT_EQ(drained.code, 0) << drained.output;
  const auto stored = lines_of(drained.output, "m-");
  std::size_t lost = 0;
  for (int i = 0; i < kMessages; ++i) {
    const std::string body = "m-" + std::to_string(i);
    if (acked.count(body) == 0) continue;
    if (stored.count(std::to_string(i)) == 0 && ++lost <= 10) {
      ADD_FAILURE() << body << " was PUBACKed but is not in the queue";
    }
  }
  std::set<std::string> distinct(stored.begin(), stored.end());
  EXPECT_EQ(lost, 0U);
  EXPECT_EQ(acked.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(kMessages));
  std::cout << "[ figures  ] PUBACKed before the crash " << acked_at_crash << ", in the queue "
            << stored.size() << " (" << distinct.size() << " distinct, "
            << stored.size() - distinct.size() << " duplicates), lost " << lost << "\n";
}

}  // namespace
}  // namespace iotgw::test
