// The real iotgw binary serving the line adapter with real plugins, over real sockets.
#include <gtest/gtest.h>

#include <csignal>

#include "gateway_fixture.hpp"
#include "line_client.hpp"

namespace iotgw::test {
namespace {

std::string topology(const std::string& stage_config, const std::string& listener_extra = "") {
  return "gateway: {plugins_dir: plugins, threads: 2, drain_timeout: 3s}\n"
         "stages:\n"
         "  - name: shout\n"
         "    plugin: tag\n"
         "    config: " +
         stage_config +
         "\n"
         "listeners:\n"
         "  - name: lines\n"
         "    adapter: line\n"
         "    bind: 127.0.0.1:0\n"
         "    pipeline: [shout]\n" +
         listener_extra;
}

TEST(Gateway, LineRoundTripThroughAClangBuiltStage) {
  GatewayUnderTest gw(topology("{mode: upper, property: site=north}"));
  LineClient c(gw.port("lines"));
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  c.send_line("hello world");
  EXPECT_EQ(c.read_line(), "ACK 1");
  EXPECT_EQ(c.read_line(), "MSG HELLO WORLD [site=north,tag-build=1]");
}

// The line adapter and the tag stage built against the headers frozen at an older minor
// (tests/abi/<minor>) load into this host and run the whole contract, stamped by that build.
void older_plugins_run_both_ways(const std::string& minor, const std::string& build) {
  GatewayUnderTest gw(topology("{mode: upper, property: site=north, direction: both}"),
                      kTestPlugins / ("abi-" + minor));
  LineClient c(gw.port("lines"));
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  c.send_line("hello world");
  EXPECT_EQ(c.read_line(), "ACK 1");
  // Upstream and back down through the older stage.
  EXPECT_EQ(c.read_line(), "MSG HELLO WORLD [site=north,tag-build=" + build + "]");
  const auto listed =
      run(kIotgw, {"--list-plugins", "--plugins-dir", (gw.dir() / "plugins").string()});
  EXPECT_NE(listed.output.find("line             adapter  1.0.0      " + minor), std::string::npos)
      << listed.output;
  EXPECT_NE(listed.output.find("tag              stage    1.0." + build + "     " + minor),
            std::string::npos)
      << listed.output;
}

// ABI 1.2 grew the host table, the adapter table and the descriptor.
TEST(Gateway, PluginsBuiltForAbi11LoadAndRunBothWays) {
  older_plugins_run_both_ways("1.1", "11");
}

// ABI 1.3 filled reserved slots: the upgrade request, the transport, on_closing.
TEST(Gateway, PluginsBuiltForAbi12LoadAndRunBothWays) {
  older_plugins_run_both_ways("1.2", "12");
}

// ABI 1.4 appended psk_identity to the credentials and connection facts, and took a stage slot.
TEST(Gateway, PluginsBuiltForAbi13LoadAndRunBothWays) {
  older_plugins_run_both_ways("1.3", "13");
}

// ABI 1.5 took a host table slot: refuse_over_rate.
TEST(Gateway, PluginsBuiltForAbi14LoadAndRunBothWays) {
  older_plugins_run_both_ways("1.4", "14");
}

// A second connection as the same device closes the first; the host tells a 1.3 adapter why
// first (on_closing), and an older one, which has no such callback, is closed all the same.
void a_newer_connection_takes_over(const std::filesystem::path& overlay) {
  GatewayUnderTest gw(topology("{}"), overlay);
  LineClient first(gw.port("lines"));
  EXPECT_EQ(first.hello("dev-1"), "WELCOME dev-1");
  LineClient second(gw.port("lines"));
  EXPECT_EQ(second.hello("dev-1"), "WELCOME dev-1");
  EXPECT_TRUE(first.closed_by_peer());
  second.send_line("still here");
  EXPECT_EQ(second.read_line(), "ACK 1");
}

TEST(Gateway, ANewerConnectionForTheDeviceClosesTheOlderOne) {
  a_newer_connection_takes_over({});
}

TEST(Gateway, AnAdapterBuiltForAbi12IsStillClosedOnTakeover) {
  a_newer_connection_takes_over(kTestPlugins / "abi-1.2");
}

TEST(Gateway, TheLoopbackBridgeAnswersOperationsUnavailable) {
  GatewayUnderTest gw(topology("{}"));
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  c.send_line("TWIN GET");
  EXPECT_EQ(c.read_line(), "TWIN 503 (the loopback bridge has no twin or methods)");
  c.send_line("ANSWER 7 200 {}");
  EXPECT_EQ(c.read_line(), "ANSWER-FAILED 7");
}

TEST(Gateway, DownstreamRunsTheStageInReverse) {
  GatewayUnderTest gw(topology("{mode: lower, direction: down}"));
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  c.send_line("Mixed Case");
  EXPECT_EQ(c.read_line(), "ACK 1");
  EXPECT_EQ(c.read_line(), "MSG mixed case [tag-build=1]");
}

TEST(Gateway, StageRefusalReachesTheDeviceWithItsReason) {
  GatewayUnderTest gw(topology("{reject_if: secret}"));
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  c.send_line("the secret plan");
  EXPECT_EQ(c.read_line(), "NACK 1 stage 'shout': payload contains 'secret'");
  c.send_line("ordinary");
  EXPECT_EQ(c.read_line(), "ACK 2");
  EXPECT_TRUE(gw.process().wait_for("dev-1: upstream message refused: stage 'shout'"));
}

TEST(Gateway, AuthenticatorRefusesAWrongPassword) {
  GatewayUnderTest gw(
      "gateway: {plugins_dir: plugins}\n"
      "stages:\n  - {name: door, plugin: tag, config: {secret: opensesame}}\n"
      "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0', auth: [door]}\n");
  LineClient bad(gw.port("lines"));
  EXPECT_EQ(bad.hello("dev-1", "guess"), "DENIED stage 'door': wrong password");
  EXPECT_TRUE(bad.closed_by_peer());
  LineClient good(gw.port("lines"));
  EXPECT_EQ(good.hello("dev-1", "opensesame"), "WELCOME dev-1");
}

TEST(Gateway, MalformedInputClosesThatConnectionOnly) {
  GatewayUnderTest gw(topology("{mode: none}", "    options: {max_line: 16}\n"));
  LineClient good(gw.port("lines"));
  LineClient bad(gw.port("lines"));
  EXPECT_EQ(good.hello("good"), "WELCOME good");
  EXPECT_EQ(bad.hello("bad"), "WELCOME bad");
  bad.send_line(std::string(100, 'x'));
  EXPECT_TRUE(bad.closed_by_peer());
  LineClient early(gw.port("lines"));
  early.send_line("not a hello");
  EXPECT_TRUE(early.closed_by_peer());
  good.send_line("still here");
  EXPECT_EQ(good.read_line(), "ACK 1");
  EXPECT_EQ(good.read_line(), "MSG still here [tag-build=1]");
}

TEST(Gateway, ConnectionLimitRefusesTheOneTooMany) {
  GatewayUnderTest gw(topology("{mode: none}", "    max_connections: 2\n"));
  const auto port = gw.port("lines");
  LineClient a(port), b(port);
  EXPECT_EQ(a.hello("a"), "WELCOME a");
  EXPECT_EQ(b.hello("b"), "WELCOME b");
  LineClient c(port);
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(gw.process().wait_for("max_connections \\(2\\) reached"));
}

TEST(Gateway, IdleTimeoutClosesASilentConnection) {
  GatewayUnderTest gw(topology("{mode: none}", "    options: {idle_timeout: 300ms}\n"));
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("sleepy"), "WELCOME sleepy");
  EXPECT_TRUE(c.closed_by_peer(std::chrono::seconds(5)));
}

TEST(Gateway, SigtermDrainsAndExitsZero) {
  GatewayUnderTest gw(topology("{mode: none}"));
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  gw.process().signal(SIGTERM);
  EXPECT_TRUE(c.closed_by_peer());  // the adapter's drain closes an idle connection at once
  EXPECT_EQ(gw.process().wait_exit(std::chrono::seconds(10)), 0);
  EXPECT_TRUE(gw.process().wait_for("\\[gateway\\] stopped", std::chrono::seconds(1)));
}

TEST(Gateway, SigintExitsZeroToo) {
  GatewayUnderTest gw(topology("{mode: none}"));
  gw.process().signal(SIGINT);
  EXPECT_EQ(gw.process().wait_exit(std::chrono::seconds(10)), 0);
}

}  // namespace
}  // namespace iotgw::test
