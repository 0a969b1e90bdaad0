// SIGHUP reloads against the real binary: open connections stay, the new pipeline applies from
// the next message, a broken topology changes nothing, listeners come and go, and a .so replaced
// in place runs its new code.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "gateway_fixture.hpp"
#include "line_client.hpp"

namespace iotgw::test {
namespace {

namespace fs = std::filesystem;

std::string topology(const std::string& mode, const std::string& more_listeners = "") {
  return "gateway: {plugins_dir: plugins, drain_timeout: 2s}\n"
         "stages:\n"
         "  - {name: shout, plugin: tag, config: {mode: " +
         mode +
         "}}\n"
         "listeners:\n"
         "  - {name: lines, adapter: line, bind: '127.0.0.1:0', pipeline: [shout]}\n" +
         more_listeners;
}

TEST(Reload, OpenConnectionKeepsItsSocketAndGetsTheNewPipeline) {
  GatewayUnderTest gw(topology("upper"));
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  c.send_line("Before");
  EXPECT_EQ(c.read_line(), "ACK 1");
  EXPECT_EQ(c.read_line(), "MSG BEFORE [tag-build=1]");

  ASSERT_TRUE(gw.reload(topology("lower")));
  EXPECT_TRUE(gw.process().wait_for("reload #1 ok: listeners kept 1, added 0, removed 0"));
  c.send_line("After");
  EXPECT_EQ(c.read_line(), "ACK 2");
  EXPECT_EQ(c.read_line(), "MSG after [tag-build=1]");
}

TEST(Reload, BrokenTopologyKeepsTheOldOneServing) {
  GatewayUnderTest gw(topology("upper"));
  const auto port = gw.port("lines");
  LineClient c(port);
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");

  // A stage config the plugin refuses, and YAML that does not parse.
  EXPECT_FALSE(gw.reload(topology("sideways")));
  EXPECT_TRUE(gw.process().wait_for("plugin 'tag' refused the configuration: mode 'sideways'"));
  EXPECT_FALSE(gw.reload("listeners: [\n"));
  EXPECT_TRUE(gw.process().wait_for("YAML syntax error"));
  EXPECT_TRUE(gw.process().wait_for(
      "reload #2 failed \\(1 error\\(s\\)\\); the previous topology keeps serving"));

  c.send_line("still upper");
  EXPECT_EQ(c.read_line(), "ACK 1");
  EXPECT_EQ(c.read_line(), "MSG STILL UPPER [tag-build=1]");
  LineClient fresh(port);
  EXPECT_EQ(fresh.hello("dev-2"), "WELCOME dev-2");
}

TEST(Reload, AddedListenerAcceptsAndRemovedOneDrains) {
  GatewayUnderTest gw(topology("upper"));
  LineClient first(gw.port("lines"));
  EXPECT_EQ(first.hello("dev-1"), "WELCOME dev-1");

  ASSERT_TRUE(
      gw.reload(topology("upper", "  - {name: extra, adapter: line, bind: '127.0.0.1:0'}\n")));
  LineClient second(gw.port("extra"));
  EXPECT_EQ(second.hello("dev-2"), "WELCOME dev-2");
  second.send_line("no stages here");
  EXPECT_EQ(second.read_line(), "ACK 1");
  EXPECT_EQ(second.read_line(), "MSG no stages here");

  // Drop `lines`: it stops accepting and its idle connection is drained (closed by the adapter).
  ASSERT_TRUE(
      gw.reload("gateway: {plugins_dir: plugins, drain_timeout: 2s}\n"
                "listeners:\n  - {name: extra, adapter: line, bind: '127.0.0.1:0'}\n"));
  EXPECT_TRUE(gw.process().wait_for("reload #2 ok: listeners kept 1, added 0, removed 1"));
  EXPECT_TRUE(first.closed_by_peer());
  EXPECT_TRUE(gw.process().wait_for("\\[listener lines\\] drained"));
  second.send_line("extra lives on");
  EXPECT_EQ(second.read_line(), "ACK 2");
}

TEST(Reload, ReplacedSharedObjectRunsItsNewCode) {
  GatewayUnderTest gw(topology("none"));
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  c.send_line("one");
  EXPECT_EQ(c.read_line(), "ACK 1");
  EXPECT_EQ(c.read_line(), "MSG one [tag-build=1]");

  // Overwrite the .so in place, as an operator's deploy would, then SIGHUP.
  fs::copy_file(kTestPlugins / "v2/iotgw-tag.so", gw.dir() / "plugins/iotgw-tag.so",
                fs::copy_options::overwrite_existing);
  ASSERT_TRUE(gw.reload(topology("none")));
  c.send_line("two");
  EXPECT_EQ(c.read_line(), "ACK 2");
  EXPECT_EQ(c.read_line(), "MSG two [tag-build=2]");
}

// The private copies of the line adapter that process pid has mapped.
std::set<std::string> mapped_line_copies(pid_t pid) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::set<std::string> paths;
  for (std::string line; std::getline(maps, line);) {
    const auto path = line.substr(line.find_last_of(' ') + 1);
    if (path.ends_with("-iotgw-line.so")) paths.insert(path);
  }
  return paths;
}

// A C++ plugin's first copy used to stay mapped until exit: GCC's STB_GNU_UNIQUE symbols (from
// std::to_string, say) make dlclose a no-op. Built with -fno-gnu-unique, it goes once the last
// object made from it does.
TEST(Reload, ReplacedCppPluginIsUnmappedOnceItsOldListenerDrained) {
  const std::string lines =
      "gateway: {plugins_dir: plugins, drain_timeout: 2s}\n"
      "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0'}\n";
  GatewayUnderTest gw(lines);
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  const auto first = mapped_line_copies(gw.process().pid());
  ASSERT_EQ(first.size(), 1U);

  // A new build on disk: the same code with other bytes, so another hash and another copy.
  const auto so = gw.dir() / "plugins/iotgw-line.so";
  write_file(so, read_file(so) + std::string(1, '\0'));
  ASSERT_TRUE(gw.reload(lines));
  EXPECT_TRUE(gw.process().wait_for("reload #1 ok: listeners kept 0, added 1, removed 1"));
  EXPECT_TRUE(c.closed_by_peer());
  EXPECT_TRUE(gw.process().wait_for("\\[listener lines\\] drained"));

  // The old listener's objects go on the next reap after it drained: wait for the unmap.
  auto now = mapped_line_copies(gw.process().pid());
  for (int i = 0; i < 100 && now.size() != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = mapped_line_copies(gw.process().pid());
  }
  std::string mapped;
  for (const auto& path : now) mapped += path + " ";
  ASSERT_EQ(now.size(), 1U) << "mapped: " << mapped;
  EXPECT_NE(*now.begin(), *first.begin());
  LineClient fresh(gw.port("lines", 2));
  EXPECT_EQ(fresh.hello("dev-2"), "WELCOME dev-2");
}

TEST(Reload, ChangedListenerOptionsReplaceTheListenerOnTheSamePort) {
  GatewayUnderTest gw(
      "gateway: {plugins_dir: plugins, drain_timeout: 2s}\n"
      "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0'}\n");
  const auto port = gw.port("lines");
  const std::string fixed = "127.0.0.1:" + std::to_string(port);
  // Pin the port the first one got, then change an adapter option: a new listener binds beside
  // the old one (SO_REUSEPORT) before the old one stops.
  ASSERT_TRUE(
      gw.reload("gateway: {plugins_dir: plugins, drain_timeout: 2s}\n"
                "listeners:\n  - {name: lines, adapter: line, bind: '" +
                fixed + "'}\n"));
  ASSERT_TRUE(
      gw.reload("gateway: {plugins_dir: plugins, drain_timeout: 2s}\n"
                "listeners:\n  - {name: lines, adapter: line, bind: '" +
                fixed + "', options: {greeting: hi there}}\n"));
  EXPECT_TRUE(gw.process().wait_for("reload #2 ok: listeners kept 0, added 1, removed 1"));
  LineClient c(port);
  EXPECT_EQ(c.read_line(), "hi there");
}

}  // namespace
}  // namespace iotgw::test
