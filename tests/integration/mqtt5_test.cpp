// MQTT 5 devices through the real gateway to a real iotgw-hub: python3-paho-mqtt with protocol
// MQTTv5, mosquitto_pub -V mqttv5, and a raw-socket client where paho keeps a PUBACK's reason to
// itself (tests/integration/mqtt5_device.py). What the hub's service side reads is checked with
// `iotgw-hub monitor`.
#include <gtest/gtest.h>

#include <csignal>

#include <nlohmann/json.hpp>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "mqtt_gateway.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

const std::string kDevice5 =
    std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/integration/mqtt5_device.py";

RunResult device5(const std::vector<std::string>& args) {
  std::vector<std::string> all{kDevice5};
  all.insert(all.end(), args.begin(), args.end());
  return run("/usr/bin/python3", all, std::chrono::seconds(60));
}

// The JSON event lines a device printed, by event name (the last of each).
std::map<std::string, nlohmann::json> events(const std::string& output) {
  std::map<std::string, nlohmann::json> out;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("event")) out[j["event"].get<std::string>()] = j;
  }
  return out;
}

TEST(Mqtt5, PahoTelemetryCarriesItsPropertiesToTheHub) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  const auto r = device5({"publish", std::to_string(gw.port("mqtt")), "dev1", kMqttPassword});
  ASSERT_EQ(r.code, 0) << r.output << gw.process().output();
  // CONNACK advertises what IoT Hub cannot honour, and the flow control in force.
  const auto connack = events(r.output).at("connected")["props"];
  EXPECT_EQ(connack["ReceiveMaximum"], 16) << r.output;
  EXPECT_EQ(connack["MaximumQoS"], 1);
  EXPECT_EQ(connack["RetainAvailable"], 0);
  EXPECT_EQ(connack["SharedSubscriptionAvailable"], 0);
  EXPECT_EQ(connack["SubscriptionIdentifierAvailable"], 0);
  EXPECT_EQ(connack["TopicAliasMaximum"], 10);
  const auto seen = nlohmann::json::parse(hub.monitor(1));
  EXPECT_EQ(seen["body"], R"({"t":5})");
  // AMQP's application properties are a map: a repeated user property keeps its last value.
  EXPECT_EQ(seen["properties"]["colour"], "blue") << seen;
  EXPECT_EQ(seen["properties"]["unit"], "C") << seen;
  EXPECT_EQ(seen["system"]["content-type"], "application/json") << seen;
  EXPECT_EQ(seen["system"]["correlation-id"], "corr-42") << seen;
  EXPECT_EQ(seen["system"]["reply-to"], "devices/dev1/replies") << seen;
  EXPECT_EQ(seen["system"]["content-encoding"], "utf-8") << seen;
  EXPECT_TRUE(seen["system"].contains("absolute-expiry-time")) << seen;
}

// Paho's websockets transport with MQTT 5 on a ws listener: the same properties, the same hub.
TEST(Mqtt5, PahoOverWebSocketsCarriesItsPropertiesToo) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub, "{}", "", ", transport: ws"));
  const auto r = device5({"--ws", "/$iothub/websocket", "publish", std::to_string(gw.port("mqtt")),
                          "dev1", kMqttPassword});
  ASSERT_EQ(r.code, 0) << r.output << gw.process().output();
  const auto seen = nlohmann::json::parse(hub.monitor(1));
  EXPECT_EQ(seen["properties"]["unit"], "C") << seen;
  EXPECT_EQ(seen["system"]["correlation-id"], "corr-42") << seen;
}

TEST(Mqtt5, MosquittoPubUserPropertiesReachTheHub) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  const auto r = run("/usr/bin/mosquitto_pub",
                     {"-h",
                      "127.0.0.1",
                      "-p",
                      std::to_string(gw.port("mqtt")),
                      "-V",
                      "mqttv5",
                      "-i",
                      "dev1",
                      "-u",
                      iothub_user("dev1"),
                      "-P",
                      kMqttPassword,
                      "-q",
                      "1",
                      "-t",
                      "devices/dev1/messages/events/",
                      "-D",
                      "publish",
                      "user-property",
                      "site",
                      "north",
                      "-D",
                      "publish",
                      "content-type",
                      "text/plain",
                      "-m",
                      "from mosquitto"},
                     std::chrono::seconds(20));
  ASSERT_EQ(r.code, 0) << r.output << gw.process().output();
  const auto seen = nlohmann::json::parse(hub.monitor(1));
  EXPECT_EQ(seen["body"], "from mosquitto");
  EXPECT_EQ(seen["properties"]["site"], "north") << seen;
  EXPECT_EQ(seen["system"]["content-type"], "text/plain") << seen;
}

// MQTT 3.1.1 can only close the connection when the hub refuses a message; MQTT 5 answers the
// PUBACK with a reason code and the hub's reason, and the device goes on.
TEST(Mqtt5, TheHubsRefusalIsAPubackReasonAndTheConnectionStays) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  // Over IoT Hub's 256 KB for a device-to-cloud message, under the adapter's packet limit.
  const auto r =
      device5({"refused", std::to_string(gw.port("mqtt")), "dev1", kMqttPassword, "262200"});
  ASSERT_EQ(r.code, 0) << r.output << gw.process().output();
  std::vector<nlohmann::json> acks;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j["event"] == "puback") acks.push_back(j);
  }
  ASSERT_EQ(acks.size(), 2U) << r.output;
  EXPECT_EQ(acks[0]["reason"], 0x83) << r.output;  // implementation specific error
  EXPECT_NE(acks[0]["reason_string"].get<std::string>().find("262144-byte limit"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(acks[1]["reason"], 0) << r.output;
  EXPECT_NE(hub.monitor(1).find(R"("body":"small")"), std::string::npos);
}

TEST(Mqtt5, C2dArrivesWithItsPropertiesAsUserPropertiesAndSubackSaysWhy) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  TempDir dir;
  Process device("/usr/bin/python3",
                 {kDevice5, "c2d", std::to_string(gw.port("mqtt")), "dev1", kMqttPassword, "1"},
                 dir / "device.log");
  // Granted, shared subscriptions not supported (0x9E), not a filter this device may use (0x87).
  ASSERT_TRUE(device.wait_for(R"("codes": \[1, 158, 135\])", std::chrono::seconds(20)))
      << device.output();
  EXPECT_EQ(hub.send("dev1", "switch on", {"colour=green"}).code, 0);
  ASSERT_EQ(device.wait_exit(std::chrono::seconds(20)), 0) << device.output();
  const auto m = events(device.output()).at("message");
  EXPECT_EQ(m["payload"], "switch on");
  EXPECT_EQ(m["qos"], 1);
  EXPECT_EQ(m["props"]["UserProperty"], nlohmann::json::parse(R"([["colour","green"]])"))
      << device.output();
  EXPECT_NE(m["topic"].get<std::string>().find("devices/dev1/messages/devicebound/"),
            std::string::npos);
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Success"));
}

// A session with an expiry interval outlives its connection: a C2D message sent while the
// device was away arrives when it comes back without subscribing again.
TEST(Mqtt5, ASessionWithAnExpiryKeepsItsC2dSubscription) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  const auto port = std::to_string(gw.port("mqtt"));
  const auto first = device5({"session", port, "dev1", kMqttPassword, "subscribe"});
  ASSERT_EQ(first.code, 0) << first.output << gw.process().output();
  EXPECT_EQ(hub.send("dev1", "while you were away").code, 0);
  const auto back = device5({"session", port, "dev1", kMqttPassword, "resume"});
  ASSERT_EQ(back.code, 0) << back.output << gw.process().output();
  const auto e = events(back.output);
  EXPECT_EQ(e.at("connected")["session_present"], true) << back.output;
  EXPECT_EQ(e.at("message")["payload"], "while you were away") << back.output;
}

TEST(Mqtt5, ATakenOverConnectionHearsWhy) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  const auto r = device5({"takeover", std::to_string(gw.port("mqtt")), "dev1", kMqttPassword});
  ASSERT_EQ(r.code, 0) << r.output << gw.process().output();
  EXPECT_EQ(events(r.output).at("first disconnected")["reason"], 0x8E) << r.output;
}

TEST(Mqtt5, ADrainingGatewaySendsItsClientsElsewhere) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub, "{server_reference: 'gw2.example:8883'}"));
  TempDir dir;
  Process device(
      "/usr/bin/python3",
      {kDevice5, "wait-disconnect", std::to_string(gw.port("mqtt")), "dev1", kMqttPassword},
      dir / "device.log");
  ASSERT_TRUE(device.wait_for("\"connected\"", std::chrono::seconds(20))) << device.output();
  gw.process().signal(SIGTERM);
  ASSERT_EQ(device.wait_exit(std::chrono::seconds(20)), 0) << device.output();
  EXPECT_EQ(gw.process().wait_exit(std::chrono::seconds(15)), 0) << gw.process().output();
  const auto gone = events(device.output()).at("disconnected");
  EXPECT_EQ(gone["reason"], 0x9C) << device.output();  // use another server
  EXPECT_EQ(gone["props"]["ServerReference"], "gw2.example:8883") << device.output();
}

TEST(Mqtt5, TheTwinWorksOverMqtt5AsOver311) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  const auto r = device5({"twin", std::to_string(gw.port("mqtt")), "dev1", kMqttPassword});
  ASSERT_EQ(r.code, 0) << r.output << gw.process().output();
  const auto m = events(r.output).at("message");
  EXPECT_EQ(m["topic"].get<std::string>().rfind("$iothub/twin/res/200/?$rid=1", 0), 0U) << r.output;
  EXPECT_NE(m["payload"].get<std::string>().find("desired"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace iotgw::test
