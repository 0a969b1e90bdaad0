// The MQTT adapter in the real gateway, upstream a real iotgw-hub, with real clients:
// mosquitto_pub (the Mosquitto project's), python3-paho-mqtt, and raw-socket devices
// (tests/integration/mqtt_device.py) where a test must withhold what a library always sends.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "mqtt_gateway.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

const std::string kDevice =
    std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/integration/mqtt_device.py";
constexpr const char* kPassword = kMqttPassword;

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

RunResult publish(std::uint16_t port, const std::string& device, const std::string& topic,
                  const std::string& body, const std::string& password = kPassword,
                  const std::string& qos = "1") {
  return run("/usr/bin/mosquitto_pub",
             {"-h", "127.0.0.1", "-p", std::to_string(port), "-V", "mqttv311", "-i", device, "-u",
              iothub_user(device), "-P", password, "-q", qos, "-t", topic, "-m", body},
             std::chrono::seconds(20));
}

TEST(Mqtt, QoS1TelemetryReachesTheHubWithItsProperties) {
  HubUnderTest hub;
  auto one_loop = mqtt_topology(hub);  // both publishers on one hub connection (see below)
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
  GatewayUnderTest gw(mqtt_topology(hub));
  const auto topic = std::string("devices/dev1/messages/events/");
  EXPECT_EQ(publish(gw.port("mqtt"), "dev1", topic, "kept").code, 0);
  EXPECT_EQ(publish(gw.port("mqtt"), "dev1", topic, "fleeting", kPassword, "0").code, 0);
  const auto seen = hub.monitor(2);
  EXPECT_NE(line_with_body(seen, "kept").find(R"("durable":true)"), std::string::npos) << seen;
  EXPECT_NE(line_with_body(seen, "fleeting").find(R"("durable":false)"), std::string::npos) << seen;
}

TEST(Mqtt, BridgeDurableOffSendsQoS1AsABrokerMayKeepInMemoryOnly) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub, "{}", ", durable: false"));
  EXPECT_EQ(publish(gw.port("mqtt"), "dev1", "devices/dev1/messages/events/", "kept").code, 0);
  const auto seen = hub.monitor(1);
  EXPECT_NE(line_with_body(seen, "kept").find(R"("durable":false)"), std::string::npos) << seen;
}

TEST(Mqtt, ABadPasswordGetsConnack4) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  const auto r = publish(gw.port("mqtt"), "dev1", "devices/dev1/messages/events/", "x", "wrong");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("bad user name or password"), std::string::npos) << r.output;
}

TEST(Mqtt, TheHubsAnswerDecidesTheConnack) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub, "{}", ", attach_timeout: 1s"));
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
  GatewayUnderTest gw(mqtt_topology(hub));  // two loops: connections land on either
  const auto r = run("/usr/bin/python3",
                     {kDevice, "takeover", std::to_string(gw.port("mqtt")), "dev1", kPassword, "6"},
                     std::chrono::seconds(60));
  EXPECT_EQ(r.code, 0) << r.output << gw.process().output();
  EXPECT_NE(r.output.find("connection 5 closed by connection 6"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the newest connection answers"), std::string::npos) << r.output;
}

TEST(Mqtt, MalformedPacketsCloseThatConnectionOnly) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
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
  GatewayUnderTest gw(mqtt_topology(hub));
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
  GatewayUnderTest gw(mqtt_topology(hub));
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
  GatewayUnderTest gw(mqtt_topology(hub));
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
  GatewayUnderTest gw(mqtt_topology(hub));
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
  GatewayUnderTest gw(mqtt_topology(hub));
  const auto r = run("/usr/bin/python3",
                     {kDevice, "keepalive", std::to_string(gw.port("mqtt")), "dev1", kPassword},
                     std::chrono::seconds(20));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("closed after 1.5 s"), std::string::npos) << r.output;
  EXPECT_TRUE(gw.process().wait_for("dev1: keep-alive expired: nothing received for 1500 ms"));
}

TEST(Mqtt, HubKilledDuringAQoS1StreamLosesNothingThatWasPubacked) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
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
  GatewayUnderTest gw(mqtt_topology(hub));
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

// ---- Twin and direct methods through the gateway, with paho as the device ----

using nlohmann::json;

// A paho device the test drives step by step (mqtt_device.py paho-session): each command is a
// JSON line appended to a control file, each event a JSON line in the device's output, parsed
// here, so the tests assert on records rather than on log text.
class PahoDevice {
 public:
  PahoDevice(std::uint16_t port, const std::string& device) : control_(dir_ / "control") {
    write_file(control_, "");
    process_ = std::make_unique<Process>(
        "/usr/bin/python3",
        std::vector<std::string>{kDevice, "paho-session", std::to_string(port), device, kPassword,
                                 control_.string()},
        dir_ / "device.log");
  }
  ~PahoDevice() {
    command({{"do", "exit"}});
    process_->wait_exit(std::chrono::seconds(5));
  }
  PahoDevice(const PahoDevice&) = delete;
  PahoDevice& operator=(const PahoDevice&) = delete;

  void command(const json& c) const { std::ofstream(control_, std::ios::app) << c.dump() << '\n'; }

  // Every event of this kind so far, in order.
  std::vector<json> events(const std::string& kind) const {
    std::vector<json> out;
    std::istringstream lines(process_->output());
    std::string line;
    while (std::getline(lines, line)) {
      if (lines.eof()) break;  // not yet a whole line
      auto e = json::parse(line, nullptr, false);
      if (e.is_object() && e.value("event", "") == kind) out.push_back(std::move(e));
    }
    return out;
  }
  // The next event of this kind not taken yet; events of other kinds wait for their own turn.
  std::optional<json> next(const std::string& kind,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    auto& taken = taken_[kind];
    for (;;) {
      const auto all = events(kind);
      if (all.size() > taken) return all[taken++];
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // The next message the device received, or an empty object (so that what a test reads from
  // it fails a comparison rather than throws).
  json message(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return next("message", timeout).value_or(json::object());
  }

  bool connected() {
    const auto e = next("connected");
    return e && (*e)["rc"] == 0;
  }
  std::vector<int> subscribe(const std::vector<std::string>& filters) {
    command({{"do", "subscribe"}, {"filters", filters}});
    const auto e = next("suback");
    return e ? (*e)["granted"].get<std::vector<int>>() : std::vector<int>{};
  }
  void publish(const std::string& topic, const std::string& payload = "", int qos = 1) const {
    command({{"do", "publish"}, {"topic", topic}, {"payload", payload}, {"qos", qos}});
  }
  // Disconnections the device did not ask for: the gateway closed its connection.
  std::size_t unasked_disconnects() const {
    const auto all = events("disconnected");
    return std::count_if(all.begin(), all.end(), [](const json& e) { return !e["asked"]; });
  }
  std::string output() const { return process_->output(); }

 private:
  TempDir dir_;
  std::filesystem::path control_;
  std::unique_ptr<Process> process_;
  std::map<std::string, std::size_t> taken_;
};

const std::string kTwinResponses = "$iothub/twin/res/#";
const std::string kDesired = "$iothub/twin/PATCH/properties/desired/#";
const std::string kMethods = "$iothub/methods/POST/#";

// A message's topic and kind ("twin_response", "desired_patch", "method_call"), as strings so
// that a failure prints them.
std::string topic(const json& message) {
  return message.value("topic", "");
}
std::string kind(const json& message) {
  return message.value("kind", "");
}

// A message's payload as JSON; an empty object when it is not JSON.
json body_of(const json& message) {
  auto body = json::parse(message.value("payload", ""), nullptr, false);
  return body.is_discarded() ? json::object() : body;
}

// The JSON `iotgw-hub twin|invoke` printed: the answer on success; on failure the hub's status
// and error body, as {"httpStatus": N, "error": {...}}.
json cli_answer(const RunResult& r) {
  std::smatch m;
  static const std::regex kFailed("the hub answered ([0-9]+): (\\{.*\\})");
  if (r.code != 0 && std::regex_search(r.output, m, kFailed)) {
    auto error = json::parse(m[2].str(), nullptr, false);
    return {{"httpStatus", std::stoi(m[1])}, {"error", error.is_discarded() ? json() : error}};
  }
  auto answer = json::parse(r.output, nullptr, false);
  return answer.is_discarded() ? json::object() : answer;
}

// A back end's `iotgw-hub invoke`, run while the test plays the device; join() for its result.
class Invocation {
 public:
  Invocation(const HubUnderTest& hub, std::vector<std::string> args)
      : thread_([&hub, this, args = std::move(args)] {
          const auto start = std::chrono::steady_clock::now();
          result_ = hub.service(args);
          took_ = std::chrono::steady_clock::now() - start;
        }) {}
  const RunResult& join() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  std::chrono::steady_clock::duration took() {
    join();
    return took_;
  }

 private:
  RunResult result_{-1, {}};
  std::chrono::steady_clock::duration took_{};
  std::jthread thread_;  // last: joined before the results go
};

TEST(Mqtt, PahoTwinGetAndReportedPatchReachTheHub) {
  HubUnderTest hub({.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kTwinResponses}), std::vector<int>{1}) << dev.output();

  dev.publish("$iothub/twin/GET/?$rid=1");
  auto fresh = dev.message();
  EXPECT_EQ(topic(fresh), "$iothub/twin/res/200/?$rid=1") << dev.output();
  EXPECT_EQ(body_of(fresh), json::parse(R"({"desired":{"$version":1},"reported":{"$version":1}})"));

  dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=2",
              R"({"temperature":21.5,"firmware":{"version":"1.2"}})");
  auto patched = dev.message();
  EXPECT_EQ(topic(patched), "$iothub/twin/res/204/?$rid=2&$version=2") << dev.output();
  EXPECT_EQ(patched["version"], 2);
  EXPECT_EQ(patched["payload"], "");

  dev.publish("$iothub/twin/GET/?$rid=3");
  auto after = dev.message();
  EXPECT_EQ(topic(after), "$iothub/twin/res/200/?$rid=3") << dev.output();
  EXPECT_EQ(body_of(after)["reported"],
            json::parse(R"({"$version":2,"temperature":21.5,"firmware":{"version":"1.2"}})"));
  // The back end reads the same twin over the service API.
  auto twin = cli_answer(hub.service({"twin", "get", "dev1"}));
  EXPECT_EQ(twin["properties"]["reported"].value("temperature", 0.0), 21.5) << twin;
  EXPECT_EQ(dev.events("puback").size(), 3U);
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

// As IoT Hub does: a request without a rid is dropped, the rid comes back exactly as written
// (whether the key came as `$rid` or `%24rid`), a resource that is not a twin's gets 400, and
// none of it closes the connection.
TEST(Mqtt, PahoTwinRequestsWithOddRidsOrResourcesAreAnsweredOrDroppedNeverClosed) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kTwinResponses}), std::vector<int>{1}) << dev.output();

  dev.publish("$iothub/twin/GET/");               // no rid: nothing to answer to
  dev.publish("$iothub/twin/GET/?$rid=", "", 0);  // an empty one, at QoS 0
  dev.publish("$iothub/twin/PATCH/properties/reported/", R"({"lost":true})");
  dev.publish("$iothub/twin/GET/?$rid=2");
  auto answered = dev.message();
  EXPECT_EQ(topic(answered), "$iothub/twin/res/200/?$rid=2") << dev.output();

  dev.publish("$iothub/twin/GET/?%24rid=encoded-3");
  EXPECT_EQ(topic(dev.message()), "$iothub/twin/res/200/?$rid=encoded-3") << dev.output();

  const std::string odd = "a/b c=d%20\xC3\xA9~!*()';:,?x";  // everything but '&', '+', '#'
  dev.publish("$iothub/twin/GET/?$rid=" + odd + "&other=1");
  auto echoed = dev.message();
  EXPECT_EQ(echoed["rid"], odd) << dev.output();
  EXPECT_EQ(topic(echoed), "$iothub/twin/res/200/?$rid=" + odd);

  dev.publish("$iothub/twin/DELETE/properties/reported/?$rid=5");
  EXPECT_EQ(topic(dev.message()), "$iothub/twin/res/400/?$rid=5") << dev.output();
  dev.publish("$iothub/twin/PATCH/properties/desired/?$rid=6", R"({"fan":1})");  // not a device's
  EXPECT_EQ(topic(dev.message()), "$iothub/twin/res/400/?$rid=6") << dev.output();

  // Still up, and the rid-less patch went nowhere.
  dev.publish("$iothub/twin/GET/?$rid=7");
  auto last = dev.message();
  EXPECT_EQ(topic(last), "$iothub/twin/res/200/?$rid=7") << dev.output();
  EXPECT_EQ(body_of(last)["reported"], json::parse(R"({"$version":1})"));
  EXPECT_FALSE(dev.next("message", std::chrono::milliseconds(300))) << dev.output();
  EXPECT_EQ(dev.events("puback").size(), 8U) << dev.output();  // every QoS 1 request was taken
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

TEST(Mqtt, PahoReportedPatchOverTheSectionLimitGets413AndChangesNothing) {
  HubUnderTest hub;
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kTwinResponses}), std::vector<int>{1}) << dev.output();

  dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=1", R"({"kept":1})");
  EXPECT_EQ(topic(dev.message()), "$iothub/twin/res/204/?$rid=1&$version=2") << dev.output();
  // One patch over 32 KB; then two of 20 KB, the second of which the section cannot hold.
  dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=2",
              R"({"big":")" + std::string(33 * 1024, 'x') + "\"}");
  auto big = dev.message();
  EXPECT_EQ(topic(big), "$iothub/twin/res/413/?$rid=2") << dev.output();
  dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=3",
              R"({"half":")" + std::string(20 * 1024, 'y') + "\"}");
  EXPECT_EQ(topic(dev.message()), "$iothub/twin/res/204/?$rid=3&$version=3") << dev.output();
  dev.publish("$iothub/twin/PATCH/properties/reported/?$rid=4",
              R"({"other":")" + std::string(20 * 1024, 'z') + "\"}");
  EXPECT_EQ(topic(dev.message()), "$iothub/twin/res/413/?$rid=4") << dev.output();

  dev.publish("$iothub/twin/GET/?$rid=5");
  auto reported = body_of(dev.message())["reported"];
  EXPECT_EQ(reported.value("$version", 0), 3) << reported.dump().substr(0, 200);
  EXPECT_EQ(reported.value("kept", 0), 1);
  EXPECT_EQ(reported.value("half", std::string()).size(), 20U * 1024);
  EXPECT_FALSE(reported.contains("big"));
  EXPECT_FALSE(reported.contains("other"));
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

TEST(Mqtt, PahoDeviceReceivesTheBackEndsDesiredPatches) {
  HubUnderTest hub({.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  // Granted only once the hub watches for the device.
  ASSERT_EQ(dev.subscribe({kDesired}), std::vector<int>{1}) << dev.output();

  const auto first = hub.service(
      {"twin", "update", "dev1", R"({"properties":{"desired":{"fan":3,"mode":"eco"}}})"});
  ASSERT_EQ(first.code, 0) << first.output;
  EXPECT_EQ(cli_answer(first)["properties"]["desired"]["$version"], 2) << first.output;
  auto patch = dev.message();
  EXPECT_EQ(topic(patch), "$iothub/twin/PATCH/properties/desired/?$version=2") << dev.output();
  EXPECT_EQ(body_of(patch), json::parse(R"({"$version":2,"fan":3,"mode":"eco"})"));

  // A null removes a property; the device hears the patch as made.
  ASSERT_EQ(
      hub.service({"twin", "update", "dev1", R"({"properties":{"desired":{"mode":null}}})"}).code,
      0);
  auto removal = dev.message();
  EXPECT_EQ(topic(removal), "$iothub/twin/PATCH/properties/desired/?$version=3") << dev.output();
  EXPECT_EQ(body_of(removal), json::parse(R"({"$version":3,"mode":null})"));
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

TEST(Mqtt, PahoDesiredSubscriptionOutlivesAHubRestart) {
  HubUnderTest hub({.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kDesired}), std::vector<int>{1}) << dev.output();
  std::map<int, int> version_of_fan;  // what each update's answer said
  auto update = [&](int fan) {
    const auto r =
        hub.service({"twin", "update", "dev1",
                     R"({"properties":{"desired":{"fan":)" + std::to_string(fan) + "}}}"});
    EXPECT_EQ(r.code, 0) << r.output;
    version_of_fan[fan] =
        cli_answer(r).value(json::json_pointer("/properties/desired/$version"), -1);
  };
  update(1);
  EXPECT_EQ(dev.message()["version"], version_of_fan[1]) << dev.output();

  hub.kill_and_restart();
  ASSERT_TRUE(gw.process().wait_for("hub connection lost"));
  // The gateway watches again by itself once it is back; a patch made before that is not sent
  // (as on IoT Hub), so try a few, each with a version of its own.
  json patch = json::object();
  for (int fan = 2; fan < 12 && patch.empty(); ++fan) {
    update(fan);
    patch = dev.message(std::chrono::seconds(2));
  }
  ASSERT_FALSE(patch.empty()) << dev.output() << gw.process().output();
  const int fan = body_of(patch).value("fan", -1);
  ASSERT_TRUE(version_of_fan.contains(fan)) << patch;
  EXPECT_EQ(topic(patch), "$iothub/twin/PATCH/properties/desired/?$version=" +
                              std::to_string(version_of_fan[fan]));
  EXPECT_EQ(dev.events("suback").size(), 1U);  // the device never subscribed again
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

TEST(Mqtt, PahoDeviceAnswersADirectMethodCall) {
  HubUnderTest hub({.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kMethods}), std::vector<int>{1}) << dev.output();

  auto round = [&](const std::string& method, const std::string& payload, int status,
                   const std::string& answer) {
    Invocation back_end(hub, {"invoke", "dev1", method, payload, "--timeout", "10"});
    auto call = dev.message(std::chrono::seconds(15));
    EXPECT_EQ(kind(call), "method_call") << dev.output();
    EXPECT_EQ(call["method"], method);
    EXPECT_EQ(body_of(call), json::parse(payload));
    const std::string rid = call.value("rid", "");
    EXPECT_EQ(topic(call), "$iothub/methods/POST/" + method + "/?$rid=" + rid);
    dev.publish("$iothub/methods/res/" + std::to_string(status) + "/?$rid=" + rid, answer);
    const auto& r = back_end.join();
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(cli_answer(r), (json{{"status", status}, {"payload", json::parse(answer)}}))
        << r.output;
  };
  round("reboot", R"({"a":1})", 200, R"({"rebooting":true,"in":"5s"})");
  // The device's own status, whatever it is, is the answer; the call itself succeeded.
  round("selfTest", "{}", 500, R"({"failed":"sensor 2"})");
  // Near IoT Hub's 128 KB both ways (a command line argument holds at most 128 KB in all).
  round("upload", R"({"blob":")" + std::string(120 * 1024, 'u') + "\"}", 200,
        R"({"echo":")" + std::string(120 * 1024, 'e') + "\"}");
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

TEST(Mqtt, PahoMethodAnswerAfterTheTimeoutIsDroppedAndTheConnectionServesOn) {
  HubUnderTest hub({.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kMethods}), std::vector<int>{1}) << dev.output();

  Invocation late(hub, {"invoke", "dev1", "reboot", "{}", "--timeout", "5"});  // the least allowed
  auto call = dev.message(std::chrono::seconds(15));
  ASSERT_EQ(kind(call), "method_call") << dev.output();
  const auto& r = late.join();  // the device says nothing until the back end has given up
  EXPECT_NE(r.code, 0) << r.output;
  auto failed = cli_answer(r);
  EXPECT_EQ(failed["httpStatus"], 504) << r.output;
  EXPECT_EQ(failed["error"]["errorCode"], 504101) << r.output;
  dev.publish("$iothub/methods/res/200/?$rid=" + call.value("rid", ""), R"({"late":true})");
  ASSERT_TRUE(dev.next("puback")) << dev.output();

  Invocation next(hub, {"invoke", "dev1", "ping", "{}", "--timeout", "10"});
  auto second = dev.message(std::chrono::seconds(15));
  EXPECT_EQ(second.value("method", ""), "ping") << dev.output();
  EXPECT_NE(second["rid"], call["rid"]);
  dev.publish("$iothub/methods/res/200/?$rid=" + second.value("rid", ""), R"({"pong":1})");
  EXPECT_EQ(cli_answer(next.join()), json::parse(R"({"payload":{"pong":1},"status":200})"))
      << next.join().output;
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

TEST(Mqtt, PahoDeviceGoneMidMethodLeavesTheCallerAnErrorAndTheGatewayServing) {
  HubUnderTest hub({.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kMethods}), std::vector<int>{1}) << dev.output();

  Invocation orphaned(hub, {"invoke", "dev1", "reboot", "{}", "--timeout", "5"});
  ASSERT_EQ(kind(dev.message(std::chrono::seconds(15))), "method_call") << dev.output();
  dev.command({{"do", "drop"}});  // the network goes, no DISCONNECT
  ASSERT_TRUE(dev.next("disconnected")) << dev.output();
  const auto& r = orphaned.join();
  EXPECT_NE(r.code, 0) << r.output;  // an error, never a success for an unanswered call
  // The gateway saw the socket go and detached the device's links: the hub answers at once that
  // the device went offline (IoT Hub's 404103 for a device that disconnects), not after the
  // whole response timeout.
  auto failed = cli_answer(r);
  EXPECT_EQ(failed["httpStatus"], 404) << r.output;
  EXPECT_EQ(failed["error"]["errorCode"], 404103) << r.output;

  dev.command({{"do", "connect"}});
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kMethods}), std::vector<int>{1}) << dev.output();
  Invocation again(hub, {"invoke", "dev1", "reboot", R"({"try":2})", "--timeout", "10"});
  auto call = dev.message(std::chrono::seconds(15));
  EXPECT_EQ(body_of(call), json::parse(R"({"try":2})")) << dev.output();
  dev.publish("$iothub/methods/res/200/?$rid=" + call.value("rid", ""), R"("ok")");
  EXPECT_EQ(cli_answer(again.join()), json::parse(R"({"payload":"ok","status":200})"))
      << again.join().output;
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

// No methods subscription, no methods link at the hub: the hub answers DeviceNotOnline at once,
// as IoT Hub does for a device that does not listen for methods, and never waits out the timeout.
TEST(Mqtt, PahoMethodCallForADeviceNotSubscribedGets404) {
  HubUnderTest hub({.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw(mqtt_topology(hub));
  PahoDevice dev(gw.port("mqtt"), "dev1");
  ASSERT_TRUE(dev.connected()) << dev.output();
  ASSERT_EQ(dev.subscribe({kTwinResponses}), std::vector<int>{1}) << dev.output();
  auto not_online = [&] {
    Invocation call(hub, {"invoke", "dev1", "reboot", "{}", "--timeout", "10"});
    const auto& r = call.join();
    EXPECT_NE(r.code, 0) << r.output;
    auto failed = cli_answer(r);
    EXPECT_EQ(failed["httpStatus"], 404) << r.output;
    EXPECT_EQ(failed["error"]["errorCode"], 404103) << r.output;
    EXPECT_LT(call.took(), std::chrono::seconds(5));
  };
  not_online();
  // Subscribed, then unsubscribed: the same.
  ASSERT_EQ(dev.subscribe({kMethods}), std::vector<int>{1}) << dev.output();
  dev.command({{"do", "unsubscribe"}, {"filters", {kMethods}}});
  ASSERT_TRUE(dev.next("unsuback")) << dev.output();
  not_online();
  // Subscribed on an earlier connection, not on this one: a new connection starts with none.
  ASSERT_EQ(dev.subscribe({kMethods}), std::vector<int>{1}) << dev.output();
  dev.command({{"do", "disconnect"}});
  ASSERT_TRUE(dev.next("disconnected")) << dev.output();
  dev.command({{"do", "connect"}});
  ASSERT_TRUE(dev.connected()) << dev.output();
  not_online();
  EXPECT_FALSE(dev.next("message", std::chrono::milliseconds(300))) << dev.output();
  EXPECT_EQ(dev.unasked_disconnects(), 0U) << dev.output();
}

}  // namespace
}  // namespace iotgw::test
