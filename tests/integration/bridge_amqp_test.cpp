// Flavour `amqp` against a real RabbitMQ with its AMQP 1.0 plugin: the connection logs in with
// SASL PLAIN, each message goes to the address the pipeline gave it (or the default template),
// marked with its device; an address the broker refuses fails only the messages sent there;
// the map stage turns an MQTT topic into the address; messages put on a device's C2D address
// reach the device.
#include <gtest/gtest.h>

#include "broker_under_test.hpp"
#include "gateway_fixture.hpp"
#include "line_client.hpp"

namespace iotgw::test {
namespace {

// Listener `plain` sends to the default template; `mapped` has a stage that names the target
// (as a stage may); `lost` names an exchange the broker does not have; `sensors` takes MQTT on
// topics of its own and the map stage makes each its address. One loop, so every device shares
// one broker connection.
std::string topology(const BrokerUnderTest& broker) {
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
         "  c2d_address: /queue/c2d.{deviceId}\n"
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
         "     options: {other_topics: map}}\n";
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
  EXPECT_NE(telemetry.output.find(R"("device": "dev1")"), std::string::npos) << telemetry.output;
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

}  // namespace
}  // namespace iotgw::test
