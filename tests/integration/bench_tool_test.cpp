// iotgw-bench, the instrument the benchmarks read, checked against servers that count for
// themselves: its sink, a real Mosquitto broker (whose subscriber must see every message the
// publishers had acknowledged), libcoap's coap-server for the CoAP mode, and iotgw with iotgw-hub
// (C2D sent by the service through the hub, received by MQTT devices; idle connections from spread
// source addresses, and over TLS, checking the server's certificate).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "process.hpp"
#include "test_pki.hpp"

namespace iotgw::test {
namespace {

std::string field(const std::string& report, const std::string& name) {
  const auto at = report.find(" " + name + " ");
  if (at == std::string::npos) return "?";
  const auto from = at + name.size() + 2;
  return report.substr(from, report.find(' ', from) - from);
}

// libcoap's example server under the name Debian gives it (libcoap3-bin has no plain
// coap-server), or under its own; empty when there is none.
std::filesystem::path coap_server() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    for (const char* name : {"coap-server", "coap-server-notls", "coap-server-openssl"}) {
      const auto candidate = std::filesystem::path(dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return {};
}

// Whether a UDP socket is bound to 127.0.0.1:port within 5 s, as /proc/net/udp lists them: a
// datagram sent before that would bounce off the closed port.
bool udp_bound(std::uint16_t port) {
  char local[32];
  std::snprintf(local, sizeof local, " 0100007F:%04X ", port);
  for (int i = 0; i < 50; ++i) {
    if (read_file("/proc/net/udp").find(local) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
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

// --timeout bounds what comes after --duration: a 4 s run with a 2 s timeout runs its 4 s (it
// used to stop at the timeout, say "timed out" and report 0 msgs/s), printing a line per second.
TEST(BenchTool, ADurationLongerThanTheTimeoutRunsWholeAndReportsEachInterval) {
  TempDir dir;
  Process sink(kBench, {"sink", "--port", "0"}, dir / "sink.log");
  const auto port = sink.wait_for("listening on 127\\.0\\.0\\.1:([0-9]+)");
  ASSERT_TRUE(port) << sink.output();
  const auto r = run(kBench, {"pub", "--port", *port, "--clients", "2", "--duration", "4", "--rate",
                              "200", "--timeout", "2", "--interval", "1"});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_GE(std::stod(field(r.output, "seconds")), 3.9) << r.output;
  EXPECT_GE(std::stol(field(r.output, "acked")), 700) << r.output;
  std::size_t lines = 0;
  for (auto at = r.output.find(" msgs/s  p50 "); at != std::string::npos;
       at = r.output.find(" msgs/s  p50 ", at + 1)) {
    ++lines;
  }
  EXPECT_GE(lines, 2U) << r.output;
}

TEST(BenchTool, AMosquittoSubscriberSeesEveryAcknowledgedMessage) {
  TempDir dir;
  const auto port = std::to_string(free_port(SOCK_STREAM));
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

// coap-server with -d makes /telemetry on the first POST (2.01) and answers the others 2.04: CON
// in the ACK, NON with a NON. -l drops its 3rd and 7th datagrams, answers the client must get by
// retransmitting.
TEST(BenchTool, CoapPubHasEveryPostAnsweredByLibcoapsServer) {
  const auto server = coap_server();
  if (server.empty()) GTEST_SKIP() << "no coap-server (Debian: apt-get install libcoap3-bin)";
  TempDir dir;
  const auto port = free_port(SOCK_DGRAM);
  const auto p = std::to_string(port);
  Process coap(server, {"-A", "127.0.0.1", "-p", p, "-d", "4", "-l", "3,7"},
               dir / "coap-server.log");
  ASSERT_TRUE(udp_bound(port)) << coap.output();
  const auto con = run(kBench, {"coap", "pub", "--port", p, "--clients", "4", "--count", "100",
                                "--window", "4", "--con", "--timeout", "60"});
  EXPECT_EQ(con.code, 0) << con.output;
  EXPECT_EQ(field(con.output, "connected"), "4") << con.output;
  EXPECT_EQ(field(con.output, "acked"), "400") << con.output;
  EXPECT_EQ(field(con.output, "n"), "400") << con.output;  // a latency for each answer
  EXPECT_EQ(field(con.output, "lost"), "0") << con.output;
  EXPECT_GE(std::stol(field(con.output, "retransmitted")), 1) << con.output;

  // Paced: a burst of NON past coap-server's receive buffer would be dropped, as NON may be.
  const auto non = run(kBench, {"coap", "pub", "--port", p, "--clients", "3", "--count", "100",
                                "--non", "--rate", "1500", "--json"});
  EXPECT_EQ(non.code, 0) << non.output;
  EXPECT_NE(non.output.find(R"("sent":300,"acked":300,"received":300)"), std::string::npos)
      << non.output;

  // A path coap-server refuses POST on (4.05): the first request's answer ends the run.
  const auto refused = run(kBench, {"coap", "pub", "--port", p, "--path", "/time"});
  EXPECT_EQ(refused.code, 1) << refused.output;
  EXPECT_NE(refused.output.find("answered 4.05"), std::string::npos) << refused.output;
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

TEST(BenchTool, TlsConnectionsLogInAndAServerTheCaDoesNotVouchForIsRefused) {
  TempDir dir;
  TestPki pki(dir.path());
  pki.issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
  pki.self_signed("rogue", "localhost");
  HubUnderTest hub({.extra_devices = 20});
  GatewayUnderTest gw("gateway: {plugins_dir: plugins, threads: 1}\n" + hub.minting_bridge() +
                      "listeners:\n  - {name: mqtts, adapter: mqtt, transport: tls, bind: "
                      "'127.0.0.1:0', tls: {cert_file: " +
                      pki.cert("server") + ", key_file: " + pki.key("server") + "}}\n");
  const auto port = std::to_string(gw.port("mqtts"));
  const auto ok = run(kBench, {"conn", "--port", port, "--clients", "20", "--rate", "0", "--hold",
                               "0.2", "--registry", hub.registry(), "--tls", "--ca", pki.ca()});
  EXPECT_EQ(ok.code, 0) << ok.output << gw.process().output();
  EXPECT_EQ(field(ok.output, "connected"), "20") << ok.output;

  const auto refused =
      run(kBench, {"conn", "--port", port, "--clients", "2", "--rate", "0", "--hold", "0.2",
                   "--registry", hub.registry(), "--tls", "--ca", pki.cert("rogue")});
  EXPECT_NE(refused.code, 0) << refused.output;
  EXPECT_EQ(field(refused.output, "connected"), "0") << refused.output;
  EXPECT_NE(refused.output.find("certificate verify failed"), std::string::npos) << refused.output;
}

}  // namespace
}  // namespace iotgw::test
