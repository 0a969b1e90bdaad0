// How the bridge reaches and logs in to the hub, and what it does when the hub stops taking:
// amqps with an operator's own CA, SASL PLAIN as the gateway's policy, and a device whose
// messages cannot go up has its reading paused, not its messages piled up, and loses none.
#include <gtest/gtest.h>

#include <csignal>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "line_client.hpp"

namespace iotgw::test {
namespace {

std::string iothub(const std::string& url, const std::string& more = "") {
  return "  flavour: iothub\n  url: " + url + "\n  hostname: " + kHubHost +
         "\n  policy: gateway\n  policy_key: " + std::string(kGatewayKey) + "\n" + more;
}

// Asks for the bridge's state (SIGUSR1) until it matches: the gateway gets there on its own time.
void expect_status(GatewayUnderTest& gw, const std::string& regex) {
  const std::string line = "\\[bridge\\] .*" + regex;
  for (int i = 0; i < 40; ++i) {
    gw.process().signal(SIGUSR1);
    if (gw.process().wait_for(line, std::chrono::milliseconds(250))) return;
  }
  ADD_FAILURE() << "no bridge status matching " << regex << "\n" << gw.process().output();
}

TEST(BridgeUpstream, AmqpsWithAConfiguredCaReachesTheHub) {
  HubUnderTest hub({.tls = true});
  GatewayUnderTest gw(bridge_topology(iothub(hub.tls_url(), "  ca_file: " + hub.ca_file() + "\n")));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  a.send_line("over tls");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "ACK 1");
  EXPECT_NE(hub.monitor(1).find(R"("body":"over tls"})"), std::string::npos);
}

TEST(BridgeUpstream, AmqpsRefusesAHubTheSystemCasDoNotVouchFor) {
  HubUnderTest hub({.tls = true});
  // No ca_file: the system's CAs, which do not know the test's own CA.
  GatewayUnderTest gw(bridge_topology(iothub(hub.tls_url(), "  attach_timeout: 2s\n")));
  LineClient a(gw.port("lines"));
  const auto denied = a.hello("dev1");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->rfind("DENIED the hub did not take the device in time: ", 0), 0U) << *denied;
  EXPECT_NE(denied->find("certificate verify failed"), std::string::npos) << *denied;
  expect_status(gw, "last error: .*certificate verify failed");
}

TEST(BridgeUpstream, SaslPlainAsThePolicyThenATokenPerDevice) {
  HubUnderTest hub;
  GatewayUnderTest gw(bridge_topology(iothub(hub.url(), "  sasl: plain\n")));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  a.send_line("logged in with plain");
  EXPECT_EQ(a.read_line(std::chrono::seconds(10)), "ACK 1")
      << gw.process().output() << hub.process().output();
  EXPECT_NE(hub.monitor(1).find(R"("body":"logged in with plain"})"), std::string::npos);
  EXPECT_TRUE(gw.process().wait_for("as gateway@sas\\.root\\.localhub"));
}

TEST(BridgeUpstream, SaslPlainWithAWrongPasswordIsRefusedAndSaysSo) {
  HubUnderTest hub;
  GatewayUnderTest gw(bridge_topology(
      "  flavour: iothub\n  url: " + hub.url() + "\n  hostname: " + kHubHost +
      "\n  sasl: plain\n  user: gateway@sas.root.localhub\n  password: not-a-token\n"
      "  policy: gateway\n  policy_key: d3Jvbmcta2V5\n  attach_timeout: 2s\n"));
  LineClient a(gw.port("lines"));
  const auto denied = a.hello("dev1");
  ASSERT_TRUE(denied);
  EXPECT_NE(denied->find("amqp:unauthorized-access"), std::string::npos) << *denied;
  EXPECT_TRUE(hub.process().wait_for("SASL PLAIN refused for gateway@sas.root.localhub"));
  expect_status(gw, "last error: .*amqp:unauthorized-access");
}

TEST(BridgeUpstream, AHubThatStopsTakingPausesTheDeviceAndLosesNothing) {
  HubUnderTest hub;
  // The adapter would take 100 lines in flight; the bridge holds 16 and pauses the device.
  GatewayUnderTest gw(bridge_topology(iothub(hub.url()), "{max_inflight: 100}"));
  LineClient a(gw.port("lines"));
  EXPECT_EQ(a.hello("dev1"), "WELCOME dev1");
  a.send_line("first");
  EXPECT_EQ(a.read_line(), "ACK 1");
  hub.kill();
  EXPECT_TRUE(gw.process().wait_for("hub connection lost"));
  constexpr int kLines = 60;
  for (int i = 1; i <= kLines; ++i) a.send_line("held-" + std::to_string(i));
  expect_status(gw, "0 in flight, 16 queued, 1 device\\(s\\) held");
  hub.restart();
  for (int i = 1; i <= kLines; ++i) {
    EXPECT_EQ(a.read_line(std::chrono::seconds(20)), "ACK " + std::to_string(i + 1));
  }
  const std::string seen = hub.monitor(kLines + 1);
  for (int i = 1; i <= kLines; ++i) {
    EXPECT_NE(seen.find("\"body\":\"held-" + std::to_string(i) + "\"}"), std::string::npos) << i;
  }
  expect_status(gw, "0 in flight, 0 queued, 0 device\\(s\\) held");
}

}  // namespace
}  // namespace iotgw::test
