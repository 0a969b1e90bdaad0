// One unreadable .so in the plugins directory: a warning naming it and why, while the gateway
// starts and reloads; only a topology entry naming that plugin fails.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

const std::string kLines =
    "gateway: {plugins_dir: plugins, drain_timeout: 2s}\n"
    "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0'}\n";

// A plugins folder holding the shipped plugins and `iotgw-junk.so`, which is not a library.
struct JunkOverlay {
  TempDir dir;
  JunkOverlay() { write_file(dir / "iotgw-junk.so", "not a shared object\n"); }
};

TEST(BrokenPlugin, AnUnusedOneIsAWarningAndTheGatewayStartsAndReloads) {
  JunkOverlay junk;
  GatewayUnderTest gw(kLines, junk.dir.path());
  const std::string why =
      "plugin " + (gw.dir() / "plugins/iotgw-junk.so").string() + ": not a shared object";
  EXPECT_TRUE(gw.process().wait_for(why));
  ASSERT_TRUE(gw.reload(kLines));
  EXPECT_EQ(gw.process().count(why), 2U) << gw.process().output();
}

TEST(BrokenPlugin, AnEntryNamingItFailsAtItsPosition) {
  JunkOverlay junk;
  TempDir dir;
  auto r = check_topology(dir,
                          "gateway: {plugins_dir: plugins}\n"
                          "stages:\n  - {name: j, plugin: junk}\n"
                          "listeners:\n  - {name: l, adapter: line, bind: ':0', pipeline: [j]}\n",
                          junk.dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find(
                (dir / "gateway.yaml").string() + ":3:23: stage 'j': plugin 'junk' did not load: " +
                (dir / "plugins/iotgw-junk.so").string() + ": not a shared object (no ELF header)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("1 error"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace iotgw::test
