// The iothub bridge against a real iotgw-hub: devices on the line adapter reach the hub through
// one shared AMQP connection with tokens minted from a gateway-held policy, and C2D comes back.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <memory>
#include <thread>

#include "gateway_fixture.hpp"
#include "line_client.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

constexpr const char* kHost = "localhub.azure-devices.net";
constexpr const char* kGatewayKey = "Z2F0ZXdheS1wb2xpY3kta2V5LWZvci10ZXN0cy0wMDE=";

class Hub {
 public:
  explicit Hub(int extra_devices = 0) {
    std::string more;
    for (int i = 0; i < extra_devices; ++i) {
      more += "  - {id: d" + std::to_string(i) +
              ", primary_key: ZGV2MS1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n";
    }
    write_file(dir_ / "registry.yaml",
               std::string("hostname: ") + kHost + "\ndevices:\n" + more +
                   "  - {id: dev1, primary_key: ZGV2MS1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n"
                   "  - {id: dev2, primary_key: ZGV2Mi1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n"
                   "  - {id: off, primary_key: b2ZmLXByaW1hcnkta2V5LWZvci10ZXN0cy0wMDAwMDE=, "
                   "status: disabled}\n"
                   "policies:\n"
                   "  - {name: service, key: c2VydmljZS1wb2xpY3kta2V5LWZvci10ZXN0cy0wMDE=, rights: "
                   "[service]}\n"
                   "  - {name: gateway, key: " +
                   kGatewayKey + ", rights: [device]}\n");
    start("0");
  }
  // SIGKILL, then the same hub again on the same port and data dir.
  void kill_and_restart() {
    process_->signal(SIGKILL);
    process_->wait_exit(std::chrono::seconds(10));
    start(port_);
  }
  ~Hub() {
    process_->signal(SIGTERM);
    process_->wait_exit(std::chrono::seconds(10));
  }
  std::string registry() const { return (dir_ / "registry.yaml").string(); }
  void start(const std::string& port) {
    process_ = std::make_unique<Process>(
        kHub,
        std::vector<std::string>{"--registry", registry(), "--listen", "127.0.0.1:" + port,
                                 "--data-dir", (dir_ / "data").string()},
        dir_ / ("hub-" + std::to_string(++starts_) + ".log"));
    auto bound = process_->wait_for("\\] listening on 127\\.0\\.0\\.1:([0-9]+)");
    if (!bound) throw std::runtime_error("iotgw-hub did not start:\n" + process_->output());
    port_ = *bound;
    url_ = "amqp://127.0.0.1:" + port_;
  }
  const std::string& url() const { return url_; }
  Process& process() { return *process_; }
  // The next `count` telemetry messages the hub holds, as `iotgw-hub monitor` prints them.
  std::string monitor(int count) const {
    return run(kHub,
               {"monitor", "--registry", registry(), "--url", url_, "--count",
                std::to_string(count)},
               std::chrono::seconds(20))
        .output;
  }
  RunResult send(const std::string& device, const std::string& body) const {
    return run(kHub, {"send", "--registry", registry(), "--url", url_, device, body},
               std::chrono::seconds(20));
  }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::string url_;
  std::string port_;
  int starts_ = 0;
};

std::string topology(const Hub& hub, const std::string& options = "{}",
                     const std::string& ttl = "1h") {
  return "gateway: {plugins_dir: plugins, threads: 2}\n"
         "bridge:\n"
         "  flavour: iothub\n"
         "  url: " +
         hub.url() +
         "\n"
         "  hostname: " +
         kHost +
         "\n"
         "  policy: gateway\n"
         "  policy_key: " +
         kGatewayKey +
         "\n"
         "  token_ttl: " +
         ttl +
         "\n"
         "listeners:\n"
         "  - {name: lines, adapter: line, bind: '127.0.0.1:0', options: " +
         options + "}\n";
}

TEST(Bridge, TelemetryReachesTheHubAndIsAcknowledgedOnlyWhenAccepted) {
  Hub hub;
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
      "0 in flight, 0 reconnect\\(s\\), last error: none"))
      << gw.process().output();
}

TEST(Bridge, OversizeTelemetryIsRefusedWithTheHubsReason) {
  Hub hub;
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
  Hub hub;
  GatewayUnderTest gw(topology(hub));
  LineClient good(gw.port("lines"));
  EXPECT_EQ(good.hello("dev1"), "WELCOME dev1");
  LineClient ghost(gw.port("lines"));
  EXPECT_EQ(ghost.hello("ghost"), "WELCOME ghost");  // the gateway knows no better; the hub does
  EXPECT_TRUE(ghost.closed_by_peer());
  LineClient disabled(gw.port("lines"));
  EXPECT_EQ(disabled.hello("off"), "WELCOME off");
  EXPECT_TRUE(disabled.closed_by_peer());
  EXPECT_TRUE(gw.process().wait_for("ghost: the hub refused the device's token: 404"));
  good.send_line("still here");
  EXPECT_EQ(good.read_line(), "ACK 1");
}

TEST(Bridge, CloudToDeviceReachesTheDeviceAndCompletes) {
  Hub hub;
  GatewayUnderTest gw(topology(hub));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  const auto sent = hub.send("dev1", "switch on");
  EXPECT_EQ(sent.code, 0) << sent.output;
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "MSG switch on");
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Success"));
}

TEST(Bridge, HubKilledMidStreamLosesNothingThatWasAcknowledged) {
  Hub hub;
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

TEST(Bridge, MintedTokensAreRenewedBeforeTheHubLetsThemExpire) {
  Hub hub;
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
  Hub hub(kDevices);
  std::string yaml = topology(hub);
  yaml.replace(yaml.find("threads: 2"), 10, "threads: 1");  // one loop, so one pool
  GatewayUnderTest gw(yaml);
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
}

}  // namespace
}  // namespace iotgw::test
