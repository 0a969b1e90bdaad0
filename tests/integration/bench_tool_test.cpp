// iotgw-bench, the instrument the benchmarks read, checked against servers that count for
// themselves: its sink, a real Mosquitto broker (whose subscriber must see every message the
// publishers had acknowledged), and iotgw with iotgw-hub (C2D sent by the service through the
// hub, received by MQTT devices; idle connections from spread source addresses).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

std::string field(const std::string& report, const std::string& name) {
  const auto at = report.find(" " + name + " ");
  if (at == std::string::npos) return "?";
  const auto from = at + name.size() + 2;
  return report.substr(from, report.find(' ', from) - from);
}

// A port free now: Mosquitto cannot be asked for port 0 and tell which it got.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

TEST(BenchTool, TheSinkAcknowledgesEveryPublishAndTheReportSaysSo) {
  TempDir dir;
  Process sink(kBench, {"sink", "--port", "0"}, dir / "sink.log");
  const auto port = sink.wait_for("listening on 127\\.0\\.0\\.1:([0-9]+)");
  ASSERT_TRUE(port) << sink.output();
  const auto qos1 = run(kBench, {"pub", "--port", *port, "--clients", "5", "--count", "400"});
  EXPECT_EQ(qos1.code, 0) << qos1.output;
  EXPECT_EQ(field(qos1.output, "acked"), "2000") << qos1.output;
  EXPECT_EQ(field(qos1.output, "n"), "2000") << qos1.output;  // a latency for each PUBACK
  const auto qos0 = run(
      kBench, {"pub", "--port", *port, "--clients", "3", "--count", "500", "--qos", "0", "--json"});
  EXPECT_EQ(qos0.code, 0) << qos0.output;
  EXPECT_NE(qos0.output.find(R"("sent":1500,"acked":1500)"), std::string::npos) << qos0.output;
  const auto paced =
      run(kBench, {"pub", "--port", *port, "--clients", "2", "--count", "100", "--rate", "400"});
  EXPECT_EQ(field(paced.output, "acked"), "200") << paced.output;
  EXPECT_GE(std::stod(field(paced.output, "seconds")), 0.4) << paced.output;  // 200 at 400/s
}

TEST(BenchTool, AMosquittoSubscriberSeesEveryAcknowledgedMessage) {
  TempDir dir;
  const auto port = std::to_string(free_port());
  write_file(dir / "mosquitto.conf",
             "listener " + port + " 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n");
  Process broker("/usr/sbin/mosquitto", {"-c", (dir / "mosquitto.conf").string()},
                 dir / "mosquitto.log");
  ASSERT_TRUE(broker.wait_for("mosquitto version .* running")) << broker.output();
  Process sub(kBench, {"sub", "--port", port, "--count", "3000", "--timeout", "60"},
              dir / "sub.log");
  ASSERT_TRUE(sub.wait_for("^ready", std::chrono::seconds(20))) << sub.output();
  const auto pub = run(kBench, {"pub", "--port", port, "--clients", "3", "--count", "1000"});
  EXPECT_EQ(field(pub.output, "acked"), "3000") << pub.output;
  ASSERT_EQ(sub.wait_exit(std::chrono::seconds(30)), 0) << sub.output();
  EXPECT_EQ(field(sub.output(), "received"), "3000") << sub.output();
  EXPECT_EQ(field(sub.output(), "n"), "3000") << sub.output();  // each timed from its stamp
}

TEST(BenchTool, C2dThroughTheHubReachesEveryDeviceAndIdleConnectionsHold) {
  HubUnderTest hub({.extra_devices = 50});  // d0..d49 come first in its registry
  GatewayUnderTest gw("gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge() +
                      "listeners:\n  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0'}\n");
  const auto port = std::to_string(gw.port("mqtt"));
  const auto c2d = run(kBench, {"c2d", "--port", port, "--registry", hub.registry(), "--hub-url",
                                hub.url(), "--clients", "2", "--count", "40", "--timeout", "60"});
  EXPECT_EQ(c2d.code, 0) << c2d.output << gw.process().output();
  EXPECT_EQ(field(c2d.output, "sent"), "40") << c2d.output;
  EXPECT_EQ(field(c2d.output, "acked"), "40") << c2d.output;  // the hub took them
  EXPECT_EQ(field(c2d.output, "received"), "40") << c2d.output;
  EXPECT_TRUE(hub.process().wait_for("d1: C2D message .* ended: Success"));

  const auto idle = run(kBench, {"conn", "--port", port, "--clients", "50", "--rate", "500",
                                 "--hold", "0.5", "--registry", hub.registry()});
  EXPECT_EQ(idle.code, 0) << idle.output;
  EXPECT_EQ(field(idle.output, "connected"), "50") << idle.output;
}

}  // namespace
}  // namespace iotgw::test
