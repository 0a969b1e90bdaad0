// The iothub bridge against a real iotgw-hub: devices on the line adapter reach the hub through
// one shared AMQP connection with tokens minted from a gateway-held policy, and C2D comes back.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <memory>
#include <optional>
#include <thread>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "line_client.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

std::string topology(const HubUnderTest& hub, const std::string& options = "{}",
                     const std::string& ttl = "1h", int threads = 2) {
  return bridge_topology("  flavour: iothub\n  url: " + hub.url() + "\n  hostname: " + kHubHost +
                             "\n  policy: gateway\n  policy_key: " + kGatewayKey +
                             "\n  token_ttl: " + ttl + "\n  idle_close: 500ms\n",
                         options, threads);
}

TEST(Bridge, TelemetryReachesTheHubAndIsAcknowledgedOnlyWhenAccepted) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  LineClient a(gw.port("lines"));
  LineClient b(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  EXPECT_EQ(b.hello("dev2"), "WELCOME dev2");
  a.send_line("hello from dev1");
  b.send_line("hello from dev2");
  EXPECT_EQ(a.read_line(), "ACK 1");
  EXPECT_EQ(b.read_line(), "ACK 1");
  const std::string seen = hub.monitor(2);
  EXPECT_NE(seen.find(R"({"device":"dev1","sequence":)"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("body":"hello from dev1"})"), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"("body":"hello from dev2"})"), std::string::npos) << seen;
  // Devices share a hub connection per event loop (two loops here), never one each.
  EXPECT_LE(gw.process().count("connected to the hub"), 2U);
  gw.process().signal(SIGUSR1);
  EXPECT_TRUE(gw.process().wait_for(
      "\\[bridge\\] iothub .*: [12] hub connection\\(s\\) \\([12] up\\), 2 device\\(s\\), "
      "0 in flight, 0 queued, 0 device\\(s\\) held, 0 reconnect\\(s\\), last error: none"))
      << gw.process().output();
}

TEST(Bridge, OversizeTelemetryIsRefusedWithTheHubsReason) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub, "{max_line: 1MiB}"));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  a.send_line(std::string(300 * 1024, 'x'));
  const auto nack = a.read_line();
  ASSERT_TRUE(nack);
  EXPECT_EQ(nack->rfind("NACK 1 amqp:link:message-size-exceeded: message of ", 0), 0U) << *nack;
  a.send_line("small");
  EXPECT_EQ(a.read_line(), "ACK 2");
}

TEST(Bridge, ARefusedTokenClosesThatDeviceOnly) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  LineClient good(gw.port("lines"));
  EXPECT_EQ(good.hello("dev1"), "WELCOME dev1");
  // The gateway knows no better; the hub does, and the login is answered with its word.
  LineClient ghost(gw.port("lines"));
  EXPECT_EQ(ghost.hello("ghost"),
            "DENIED the hub refused the device's token: 404 device 'ghost' is not registered");
  EXPECT_TRUE(ghost.closed_by_peer());
  LineClient disabled(gw.port("lines"));
  const auto off = disabled.hello("off");
  ASSERT_TRUE(off);
  EXPECT_EQ(off->rfind("DENIED the hub refused the device's token: 401", 0), 0U) << *off;
  EXPECT_TRUE(disabled.closed_by_peer());
  good.send_line("still here");
  EXPECT_EQ(good.read_line(), "ACK 1");
}

TEST(Bridge, CloudToDeviceReachesTheDeviceAndCompletes) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  const auto sent = hub.send("dev1", "switch on");
  EXPECT_EQ(sent.code, 0) << sent.output;
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "MSG switch on");
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Success"));
}

TEST(Bridge, HubKilledMidStreamLosesNothingThatWasAcknowledged) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  int acked = 0;
  std::vector<std::string> acked_bodies;
  auto send_and_count = [&](int from, int to) {
    for (int i = from; i < to; ++i) a.send_line("line-" + std::to_string(i));
    for (int i = from; i < to; ++i) {
      auto reply = a.read_line(std::chrono::seconds(15));
      ASSERT_TRUE(reply) << "no answer for line " << i;
      if (reply->rfind("ACK ", 0) == 0) {
        ++acked;
        acked_bodies.push_back("line-" + std::to_string(std::stoi(reply->substr(4)) - 1));
      }
    }
  };
  send_and_count(0, 20);
  EXPECT_EQ(acked, 20);
  hub.kill_and_restart();
  send_and_count(20, 40);  // some may be refused while the hub is away; none is lost once ACKed
  EXPECT_GT(acked, 20);    // the stream resumed on the restarted hub
  const std::string seen = hub.monitor(acked);
  for (const auto& body : acked_bodies) {
    EXPECT_NE(seen.find("\"body\":\"" + body + "\"}"), std::string::npos)
        << body << " was ACKed but is not at the hub";
  }
  EXPECT_TRUE(gw.process().wait_for("hub connection lost"));
}

// The line adapter's operations (ABI 1.2) through the bridge's twin and method links to the
// real hub; a twin outlives a hub crash (--data-dir) and the links come back after it.
TEST(Bridge, TwinIsReadAndReportedAtTheHubAndOutlivesItsRestart) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  a.send_line("TWIN GET");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)),
            R"(TWIN 200 v=1 {"desired":{"$version":1},"reported":{"$version":1}})");
  a.send_line(R"(TWIN REPORT {"temp":21})");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "TWIN 204 v=2");
  a.send_line("TWIN WATCH");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "TWIN 200");
  a.send_line("METHODS ON");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "METHODS 200");
  a.send_line("hello");  // messages and operations interleave; ACKs count message lines
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "ACK 1");

  hub.kill_and_restart();
  // While the hub is away the bridge answers 503 itself; once it is back the twin is as it was.
  std::optional<std::string> answer;
  for (int i = 0; i < 60; ++i) {
    a.send_line("TWIN GET");
    answer = a.read_line(std::chrono::seconds(10));
    ASSERT_TRUE(answer);
    if (answer->rfind("TWIN 200", 0) == 0) break;
    EXPECT_EQ(answer->rfind("TWIN 503", 0), 0U) << *answer;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(answer,
            R"(TWIN 200 v=1 {"desired":{"$version":1},"reported":{"$version":2,"temp":21}})");
  EXPECT_TRUE(gw.process().wait_for("hub connection lost"));
}

// A back end's desired patch and method call (the hub's CLI over its HTTPS service API) reach a
// device on the line adapter through the bridge, and still do after the hub crashed: the bridge
// takes the desired watch and the methods link back on its own.
TEST(Bridge, DesiredPatchesAndMethodCallsReachTheDeviceAcrossAHubRestart) {
  HubUnderTest hub(HubUnderTest::Options{.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw(topology(hub));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  a.send_line("TWIN WATCH");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "TWIN 200");
  a.send_line("METHODS ON");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "METHODS 200");

  auto desired_round = [&](int fan) -> std::optional<std::string> {
    const auto r =
        hub.service({"twin", "update", "dev1",
                     R"({"properties":{"desired":{"fan":)" + std::to_string(fan) + "}}}"});
    EXPECT_EQ(r.code, 0) << r.output;
    return a.read_line(std::chrono::seconds(3));
  };
  auto method_round = [&](const std::string& payload) {
    RunResult result;
    std::thread back_end([&] {
      result = hub.service({"invoke", "dev1", "reboot", payload, "--timeout", "10"});
    });
    const auto call = a.read_line(std::chrono::seconds(10));
    EXPECT_TRUE(call && call->rfind("CALL ", 0) == 0) << call.value_or("(nothing)");
    const std::string id = call ? call->substr(5, call->find(' ', 5) - 5) : "0";
    EXPECT_EQ(call, "CALL " + id + " reboot " + payload);
    a.send_line("ANSWER " + id + " 200 {\"ok\":true}");
    back_end.join();
    EXPECT_EQ(result.code, 0) << result.output;
    EXPECT_NE(result.output.find(R"({"payload":{"ok":true},"status":200})"), std::string::npos)
        << result.output;
  };
  EXPECT_EQ(desired_round(1), R"(DESIRED v=2 {"$version":2,"fan":1})");
  method_round(R"({"in":1})");

  hub.kill_and_restart();
  ASSERT_TRUE(gw.process().wait_for("hub connection lost"));
  // One change, made at once: whether it lands before the bridge has the watch back (the
  // bridge's catch-up read after re-watching brings it) or after (the hub's own patch), the
  // device hears version 3 exactly once.
  const auto r = hub.service({"twin", "update", "dev1", R"({"properties":{"desired":{"fan":2}}})"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(a.read_line(std::chrono::seconds(20)), R"(DESIRED v=3 {"$version":3,"fan":2})");
  EXPECT_FALSE(a.read_line(std::chrono::seconds(2)));
  method_round(R"({"in":2})");
}

// abi.h: stages do not see operations. A stage that upper-cases every message both ways leaves
// twin documents and method payloads as they were, while telemetry goes through it.
TEST(Bridge, PipelineStagesLeaveTwinAndMethodPayloadsAlone) {
  HubUnderTest hub(HubUnderTest::Options{.extra_devices = 0, .tls = false, .https = true});
  GatewayUnderTest gw("gateway: {plugins_dir: plugins, threads: 1}\n" + hub.minting_bridge() +
                      "stages:\n"
                      "  - {name: shout, plugin: tag, config: {mode: upper, direction: both}}\n"
                      "listeners:\n"
                      "  - {name: lines, adapter: line, bind: '127.0.0.1:0', pipeline: [shout]}\n");
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  a.send_line(R"(TWIN REPORT {"mode":"eco"})");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "TWIN 204 v=2");
  a.send_line("TWIN GET");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)),
            R"(TWIN 200 v=1 {"desired":{"$version":1},"reported":{"$version":2,"mode":"eco"}})");
  a.send_line("METHODS ON");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "METHODS 200");
  RunResult result;
  std::thread back_end([&] {
    result = hub.service({"invoke", "dev1", "ping", R"({"quiet":"yes"})", "--timeout", "10"});
  });
  const auto call = a.read_line(std::chrono::seconds(10));
  EXPECT_EQ(call, R"(CALL 1 ping {"quiet":"yes"})");
  a.send_line(R"(ANSWER 1 200 {"still":"quiet"})");
  back_end.join();
  EXPECT_NE(result.output.find(R"({"payload":{"still":"quiet"},"status":200})"), std::string::npos)
      << result.output;
  a.send_line("telemetry is shouted");  // the stage does run, on messages
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "ACK 1");
  EXPECT_NE(hub.monitor(1).find(R"("body":"TELEMETRY IS SHOUTED")"), std::string::npos);
}

TEST(Bridge, MintedTokensAreRenewedBeforeTheHubLetsThemExpire) {
  HubUnderTest hub;
  GatewayUnderTest gw(topology(hub, "{}", "3s"));  // the hub closes links when a token runs out
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  a.send_line("before");
  EXPECT_EQ(a.read_line(), "ACK 1");
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));  // past the first token's end
  a.send_line("after");
  EXPECT_EQ(a.read_line(), "ACK 2");
  EXPECT_GE(hub.process().count("CBS: token accepted for localhub.azure-devices.net/devices/dev1"),
            2U);
}

TEST(Bridge, TheNineHundredNinetySixthDeviceOpensASecondConnection) {
  rlimit files{};  // 996 clients here: more descriptors than a shell's default 1024 allows
  getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  setrlimit(RLIMIT_NOFILE, &files);
  constexpr int kDevices = 996;
  HubUnderTest hub({.extra_devices = kDevices});
  GatewayUnderTest gw(topology(hub, "{}", "1h", 1));  // one loop, so one pool
  const auto port = gw.port("lines");
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < kDevices; ++i) {
    clients.push_back(std::make_unique<LineClient>(port));
    clients.back()->send_line("HELLO d" + std::to_string(i));
  }
  for (int i = 0; i < kDevices; ++i) {
    ASSERT_EQ(clients[i]->read_line(std::chrono::seconds(20)), "WELCOME d" + std::to_string(i));
    clients[i]->send_line("hi");
  }
  int acked = 0;
  for (auto& c : clients) acked += c->read_line(std::chrono::seconds(20)) == "ACK 1" ? 1 : 0;
  EXPECT_EQ(acked, kDevices);
  EXPECT_EQ(gw.process().count("connected to the hub"), 2U);  // 995 on the first, 1 on the second
  // Every device leaves: the extra connection, idle past idle_close, closes; the loop's first
  // stays open for the next device.
  clients.clear();
  EXPECT_TRUE(gw.process().wait_for("idle hub connection closed"));
  gw.process().signal(SIGUSR1);
  EXPECT_TRUE(gw.process().wait_for(": 1 hub connection\\(s\\) \\(1 up\\), 0 device\\(s\\)"))
      << gw.process().output();
}

}  // namespace
}  // namespace iotgw::test
