// The MQTT adapter in the real gateway, upstream a real iotgw-hub, with real clients:
// mosquitto_pub (the Mosquitto project's), python3-paho-mqtt, and raw-socket devices
// (tests/integration/mqtt_device.py) where a test must withhold what a library always sends.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <thread>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

const std::string kDevice =
    std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/integration/mqtt_device.py";
constexpr const char* kPassword = "opensesame";

// An `mqtt` listener whose devices prove themselves with a shared password (the tag stage's
// authenticator); the bridge mints their hub tokens from the gateway's policy. `bridge_more`
// adds bridge keys (", attach_timeout: 1s").
std::string topology(const HubUnderTest& hub, const std::string& options = "{}",
                     const std::string& bridge_more = "") {
  return "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge(bridge_more) +
         "stages:\n"
         "  - {name: door, plugin: tag, config: {secret: " +
         kPassword +
         "}}\n"
         "listeners:\n"
         "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0', auth: [door], options: " +
         options + "}\n";
}

// The same, with topics outside IoT Hub's served through one map stage of the given config.
std::string mapping_topology(const HubUnderTest& hub, const std::string& map_config) {
  return "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge() +
         "stages:\n"
         "  - {name: door, plugin: tag, config: {secret: " +
         kPassword +
         "}}\n"
         "  - {name: mapping, plugin: map, config: " +
         map_config +
         "}\n"
         "listeners:\n"
         "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0', auth: [door], pipeline: [mapping],\n"
         "     options: {other_topics: map}}\n";
}

std::string user(const std::string& device) {
  return std::string(kHubHost) + "/" + device + "/?api-version=2021-04-12";
}

RunResult publish(std::uint16_t port, const std::string& device, const std::string& topic,
                  const std::string& body, const std::string& password = kPassword,
                  const std::string& qos = "1") {
  return run("/usr/bin/mosquitto_pub",
             {"-h", "127.0.0.1", "-p", std::to_string(port), "-V", "mqttv311", "-i", device, "-u",
              user(device), "-P", password, "-q", qos, "-t", topic, "-m", body},
             std::chrono::seconds(20));
}

// The line of `iotgw-hub monitor` output that holds the message with this body, or "".
std::string line_with_body(const std::string& seen, const std::string& body) {
  const auto at = seen.find("\"body\":\"" + body + "\"");
  if (at == std::string::npos) return {};
  const auto start = seen.rfind('\n', at);
  const auto from = start == std::string::npos ? 0 : start + 1;
  return seen.substr(from, seen.find('\n', at) - from);
}

TEST(Mqtt, QoS1TelemetryReachesTheHubWithItsProperties) {
  HubUnderTest hub;
  auto one_loop = topology(hub);  // both publishers on one hub connection (see below)
  one_loop.replace(one_loop.find("threads: 2"), 10, "threads: 1");
  GatewayUnderTest gw(one_loop);
  const auto r =
      publish(gw.port("mqtt"), "dev1",
              "devices/dev1/messages/events/%24.ct=application%2Fjson&color=red", R"({"t":21})");
  EXPECT_EQ(r.code, 0) << r.output << gw.process().output();
  const auto seen = hub.monitor(1);
  EXPECT_NE(seen.find(R"("device":"dev1")"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("color":"red")"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("body":"{\"t\":21}")"), std::string::npos) << seen;
  // The bridge reuses the AMQP message of an answered one: nothing of the first may stay.
  EXPECT_EQ(publish(gw.port("mqtt"), "dev1", "devices/dev1/messages/events/", "plain").code, 0);
  const auto both = hub.monitor(2);
  const auto second = line_with_body(both, "plain");
  ASSERT_FALSE(second.empty()) << both;
  EXPECT_EQ(second.find("color"), std::string::npos) << both;
}

// Acknowledged means stored: a QoS 1 message goes as a durable one, which a broker must store
// before it answers `accepted`; QoS 0 promises nothing and costs the broker no disk write.
TEST(Mqtt, QoS1GoesUpstreamDurableAndQoS0DoesNot) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  const auto topic = std::string("devices/dev1/messages/events/");
  EXPECT_EQ(publish(gw.port("mqtt"), "dev1", topic, "kept").code, 0);
  EXPECT_EQ(publish(gw.port("mqtt"), "dev1", topic, "fleeting", kPassword, "0").code, 0);
  const auto seen = hub.monitor(2);
  EXPECT_NE(line_with_body(seen, "kept").find(R"("durable":true)"), std::string::npos) << seen;
  EXPECT_NE(line_with_body(seen, "fleeting").find(R"("durable":false)"), std::string::npos) << seen;
}

TEST(Mqtt, BridgeDurableOffSendsQoS1AsABrokerMayKeepInMemoryOnly) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub, "{}", ", durable: false"));
  EXPECT_EQ(publish(gw.port("mqtt"), "dev1", "devices/dev1/messages/events/", "kept").code, 0);
  const auto seen = hub.monitor(1);
  EXPECT_NE(line_with_body(seen, "kept").find(R"("durable":false)"), std::string::npos) << seen;
}

TEST(Mqtt, ABadPasswordGetsConnack4) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  const auto r = publish(gw.port("mqtt"), "dev1", "devices/dev1/messages/events/", "x", "wrong");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("bad user name or password"), std::string::npos) << r.output;
}

TEST(Mqtt, TheHubsAnswerDecidesTheConnack) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub, "{}", ", attach_timeout: 1s"));
  const auto port = gw.port("mqtt");
  // Our password is right; the hub does not know the device: the upstream said no, CONNACK 3.
  const auto ghost = publish(port, "ghost", "devices/ghost/messages/events/", "x");
  EXPECT_NE(ghost.code, 0);
  EXPECT_NE(ghost.output.find("broker unavailable"), std::string::npos) << ghost.output;
  EXPECT_TRUE(gw.process().wait_for("ghost: the hub did not take the device: the hub refused"));
  // No hub at all: CONNACK 3, server unavailable, once attach_timeout has passed.
  hub.kill();
  const auto down = publish(port, "dev1", "devices/dev1/messages/events/", "x");
  EXPECT_NE(down.code, 0);
  EXPECT_NE(down.output.find("broker unavailable"), std::string::npos) << down.output;
}

TEST(Mqtt, ANewConnectionForADeviceClosesTheOldOne) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));  // two loops: connections land on either
  const auto r = run("/usr/bin/python3",
                     {kDevice, "takeover", std::to_string(gw.port("mqtt")), "dev1", kPassword, "6"},
                     std::chrono::seconds(60));
  EXPECT_EQ(r.code, 0) << r.output << gw.process().output();
  EXPECT_NE(r.output.find("connection 5 closed by connection 6"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the newest connection answers"), std::string::npos) << r.output;
}

TEST(Mqtt, MalformedPacketsCloseThatConnectionOnly) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  const auto r =
      run("/usr/bin/python3",
          {kDevice, "malformed", std::to_string(gw.port("mqtt")), "dev1", "dev2", kPassword},
          std::chrono::seconds(60));
  EXPECT_EQ(r.code, 0) << r.output << gw.process().output();
  EXPECT_NE(r.output.find("closed after QoS 2 PUBLISH; the other connection answers"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(gw.process().wait_for("malformed packet: remaining length longer than four bytes"));
}

TEST(Mqtt, AConnectionLostWithoutDisconnectSendsItsWill) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  const auto r =
      run("/usr/bin/python3", {kDevice, "will", std::to_string(gw.port("mqtt")), "dev1", kPassword},
          std::chrono::seconds(20));
  EXPECT_EQ(r.code, 0) << r.output;
  const auto seen = hub.monitor(1);
  EXPECT_NE(seen.find(R"("state":"offline")"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("iothub-mqtt-will":"true")"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("body":"gone")"), std::string::npos) << seen;
}

TEST(Mqtt, AMapStageClaimsOtherTopicsAndWhatNoneClaimsIsRefused) {
  HubUnderTest hub;
  GatewayUnderTest gw(
      mapping_topology(hub, "{topic: 'sensors/{room}/{kind}', properties: ['site=hq-{room}']}"));
  const auto port = gw.port("mqtt");
  EXPECT_EQ(publish(port, "dev1", "sensors/lobby/temp", "21.5").code, 0) << gw.process().output();
  const auto seen = hub.monitor(1);
  EXPECT_NE(seen.find(R"("room":"lobby")"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("kind":"temp")"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("site":"hq-lobby")"), std::string::npos) << seen;
  const auto unmapped = publish(port, "dev1", "elsewhere/x", "lost?");
  EXPECT_NE(unmapped.code, 0) << unmapped.output;
  EXPECT_TRUE(gw.process().wait_for("topic 'elsewhere/x' is not mapped by any stage"));
}

TEST(Mqtt, AMappedC2dMessageReachesASubscriberOfItsTopic) {
  HubUnderTest hub;
  GatewayUnderTest gw(mapping_topology(hub, "{c2d_topic: 'commands/{deviceId}/{command}'}"));
  TempDir dir;
  Process device("/usr/bin/python3",
                 {kDevice, "paho-c2d", std::to_string(gw.port("mqtt")), "dev1", kPassword, "1",
                  "commands/dev1/#"},
                 dir / "device.log");
  ASSERT_TRUE(device.wait_for("subscribed \\[1\\]", std::chrono::seconds(20))) << device.output();
  // No command property: the devicebound topic, which this device did not ask for.
  EXPECT_EQ(hub.send("dev1", "unasked").code, 0);
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Rejected"))
      << hub.process().output();
  EXPECT_TRUE(gw.process().wait_for("subscribed to no devicebound filter"));
  EXPECT_EQ(hub.send("dev1", "reboot now", {"command=reboot"}).code, 0);
  EXPECT_TRUE(device.wait_for("message reboot now commands/dev1/reboot")) << device.output();
  EXPECT_EQ(device.wait_exit(std::chrono::seconds(20)), 0) << device.output();
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Success"));
  EXPECT_EQ(device.output().find("unasked"), std::string::npos);
}

TEST(Mqtt, AnotherDevicesTopicClosesThatConnectionOnly) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  const auto port = gw.port("mqtt");
  const auto bad = publish(port, "dev1", "devices/dev2/messages/events/", "as dev2");
  EXPECT_NE(bad.code, 0) << bad.output;
  EXPECT_TRUE(gw.process().wait_for("dev1: publish as another device"));
  const auto good = publish(port, "dev2", "devices/dev2/messages/events/", "as myself");
  EXPECT_EQ(good.code, 0) << good.output;
  const auto seen = hub.monitor(1);
  EXPECT_NE(seen.find(R"("body":"as myself")"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("as dev2"), std::string::npos) << seen;
}

TEST(Mqtt, CloudToDeviceReachesAPahoClientAndCompletes) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  TempDir dir;
  Process device("/usr/bin/python3",
                 {kDevice, "paho-c2d", std::to_string(gw.port("mqtt")), "dev1", kPassword, "1"},
                 dir / "device.log");
  ASSERT_TRUE(device.wait_for("subscribed \\[1\\]", std::chrono::seconds(20))) << device.output();
  EXPECT_EQ(hub.send("dev1", "switch on").code, 0);
  EXPECT_TRUE(device.wait_for("message switch on devices/dev1/messages/devicebound/"))
      << device.output();
  EXPECT_EQ(device.wait_exit(std::chrono::seconds(20)), 0) << device.output();
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Success"));
}

// The loopback bridge has no twin and no methods: through the real adapter and host, a device
// hears that as IoT Hub's SDKs expect to, 503 on the twin response topic and a SUBACK failure
// for the methods filter, and its connection stays up.
TEST(Mqtt, WithoutATwinUpstreamTwinRequestsGet503AndMethodsAreRefused) {
  GatewayUnderTest gw(
      "gateway: {plugins_dir: plugins, threads: 1}\n"
      "bridge: {flavour: loopback}\n"
      "stages:\n"
      "  - {name: door, plugin: tag, config: {secret: " +
      std::string(kPassword) +
      "}}\n"
      "listeners:\n"
      "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0', auth: [door]}\n");
  const auto r = run("/usr/bin/python3",
                     {kDevice, "paho-twin", std::to_string(gw.port("mqtt")), "dev1", kPassword},
                     std::chrono::seconds(30));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("subscribed [1, 128]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("response $iothub/twin/res/503/?$rid=7"), std::string::npos) << r.output;
}

TEST(Mqtt, AC2dMessageNotAcknowledgedComesAgainWithDup) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  TempDir dir;
  Process device("/usr/bin/python3",
                 {kDevice, "c2d-abandon", std::to_string(gw.port("mqtt")), "dev1", kPassword},
                 dir / "device.log");
  ASSERT_TRUE(device.wait_for("subscribed", std::chrono::seconds(20))) << device.output();
  EXPECT_EQ(hub.send("dev1", "once more").code, 0);
  EXPECT_TRUE(device.wait_for("first dup=0 once more")) << device.output();
  EXPECT_TRUE(device.wait_for("again dup=1 once more"))
      << device.output() << gw.process().output() << hub.process().output();
  EXPECT_EQ(device.wait_exit(std::chrono::seconds(20)), 0) << device.output();
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Success"));
}

TEST(Mqtt, ASilentClientIsClosedAfterOneAndAHalfKeepAlives) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  const auto r = run("/usr/bin/python3",
                     {kDevice, "keepalive", std::to_string(gw.port("mqtt")), "dev1", kPassword},
                     std::chrono::seconds(20));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("closed after 1.5 s"), std::string::npos) << r.output;
  EXPECT_TRUE(gw.process().wait_for("dev1: keep-alive expired: nothing received for 1500 ms"));
}

TEST(Mqtt, HubKilledDuringAQoS1StreamLosesNothingThatWasPubacked) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  TempDir dir;
  constexpr int kMessages = 60;
  Process device("/usr/bin/python3",
                 {kDevice, "paho-stream", std::to_string(gw.port("mqtt")), "dev1", kPassword,
                  std::to_string(kMessages)},
                 dir / "device.log");
  ASSERT_TRUE(device.wait_for("acked m-20", std::chrono::seconds(30))) << device.output();
  hub.kill();
  // The stream stalls while the hub is away: nothing more is PUBACKed.
  EXPECT_TRUE(gw.process().wait_for("hub connection lost"));
  const auto acked_while_up = device.count("acked ");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LE(device.count("acked "), acked_while_up + 1);  // one may have been accepted in time
  hub.restart();
  EXPECT_EQ(device.wait_exit(std::chrono::seconds(120)), 0) << device.output();
  // Every PUBACKed message is at the restarted hub (at least once: a resend may repeat one).
  const std::string seen = hub.monitor(kMessages);
  for (int i = 0; i < kMessages; ++i) {
    if (device.output().find("acked m-" + std::to_string(i) + "\n") == std::string::npos) continue;
    EXPECT_NE(seen.find("\"body\":\"m-" + std::to_string(i) + "\"}"), std::string::npos)
        << "m-" << i << " was PUBACKed but is not at the hub";
  }
}

TEST(Mqtt, AThousandDevicesPublishAndReceiveAtOnce) {
  rlimit files{};  // a thousand clients: more descriptors than a shell's default 1024
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  constexpr int kDevices = 1000, kEach = 5, kC2d = 50;
  HubUnderTest hub({.extra_devices = kDevices});
  GatewayUnderTest gw(topology(hub));
  // Queued at the hub now; each reaches its device once it has subscribed.
  for (int i = 0; i < kC2d; ++i) {
    ASSERT_EQ(hub.send("d" + std::to_string(i * (kDevices / kC2d)), "c2d").code, 0);
  }
  const auto r =
      run(kBench,
          {"pub", "--port", std::to_string(gw.port("mqtt")), "--clients", std::to_string(kDevices),
           "--count", std::to_string(kEach), "--iothub", kHubHost, "--password", kPassword, "--c2d",
           std::to_string(kC2d), "--timeout", "100"},
          std::chrono::seconds(110));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("clients 1000 connected 1000 sent 5000 acked 5000 received 50 "),
            std::string::npos)
      << r.output;
  // The hub's own count: every acknowledged message is there.
  const auto seen = hub.monitor(kDevices * kEach);
  std::size_t lines = 0;
  for (std::size_t at = seen.find("\"body\""); at != std::string::npos;
       at = seen.find("\"body\"", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, static_cast<std::size_t>(kDevices * kEach));
}

}  // namespace
}  // namespace iotgw::test
