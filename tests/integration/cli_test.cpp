// The command line as operators use it: --check, --list-plugins, --describe, --version.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway_fixture.hpp"
#include "process.hpp"
#include "test_env.hpp"

namespace iotgw::test {
namespace {

TEST(Cli, QuickstartChecksClean) {
  auto r = run(kIotgw, {"--config", (kSourceDir / "config/quickstart.yaml").string(), "--check",
                        "--plugins-dir", kPluginsDir.string()});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("quickstart.yaml: OK"), std::string::npos) << r.output;
}

TEST(Cli, MisspeltKeyExitsTwoWithPositionAndValidKeys) {
  TempDir dir;
  std::string yaml = read_file(kSourceDir / "config/quickstart.yaml");
  const auto at = yaml.find("  threads:");
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, 10, "  thredas:");
  write_file(dir / "gateway.yaml", yaml);
  auto r = run(kIotgw, {"--config", (dir / "gateway.yaml").string(), "--check"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("gateway.yaml:"), std::string::npos);
  EXPECT_NE(r.output.find(": gateway: unknown key 'thredas' (valid: plugins_dir, threads, "
                          "drain_timeout, drain_rate, max_buffered_bytes, log_level, "
                          "log_format, admin, watch)"),
            std::string::npos)
      << r.output;
}

TEST(Cli, CheckReportsEveryErrorAndCountsThem) {
  TempDir dir;
  stock_plugins(dir / "plugins");
  write_file(dir / "gateway.yaml",
             "gateway: {plugins_dir: plugins}\n"
             "stages:\n  - {name: s, plugin: tag, config: {mode: up}}\n"
             "listeners:\n  - {name: l, adapter: line, bind: ':0', options: {max_line: huge}}\n");
  auto r = run(kIotgw, {"--config", (dir / "gateway.yaml").string(), "--check"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("mode 'up' is not upper, lower or none"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'max_line' must be a size"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 errors"), std::string::npos) << r.output;
}

// A topology error (an unknown stage) used to stop --check before the plugins were consulted, so
// the plugin errors surfaced one fix later.
TEST(Cli, CheckReportsTopologyAndPluginErrorsInOneRun) {
  TempDir dir;
  auto r = check_topology(
      dir,
      "gateway: {plugins_dir: plugins}\n"
      "stages:\n"
      "  - {name: users, plugin: auth-file}\n"
      "  - {name: squash, plugin: zstdd}\n"
      "listeners:\n"
      "  - {name: l, adapter: line, bind: ':0', auth: [users], pipeline: [shout]}\n");
  const std::string file = (dir / "gateway.yaml").string();
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find(file + ":3:5: stage 'users': missing required key 'file'"),
            std::string::npos)
      << r.output;
  EXPECT_NE(
      r.output.find(file + ":4:28: stage 'squash': unknown stage plugin 'zstdd' (available: "),
      std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(file + ":6:68: listener 'l': unknown stage 'shout' in pipeline"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("3 errors"), std::string::npos) << r.output;
}

TEST(Cli, CheckReadsTlsFilesAndNamesTheOneThatFails) {
  TempDir dir;
  stock_plugins(dir / "plugins");
  write_file(dir / "gateway.yaml",
             "gateway: {plugins_dir: plugins}\n"
             "listeners:\n  - {name: l, adapter: mqtt, transport: tls, bind: ':0',\n"
             "     tls: {cert_file: missing.pem, key_file: missing.key}}\n");
  auto r = run(kIotgw, {"--config", (dir / "gateway.yaml").string(), "--check"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("listener 'l': certificate " + (dir / "missing.pem").string() + ": "),
            std::string::npos)
      << r.output;
}

TEST(Cli, ListPluginsShowsNameKindVersionAbiAndPath) {
  TempDir dir;
  stock_plugins(dir.path());
  auto r = run(kIotgw, {"--list-plugins", "--plugins-dir", dir.path().string()});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("line             adapter  1.0.0      " + abi() + "   " +
                          (dir / "iotgw-line.so").string()),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("tag              stage    1.0.1      " + abi() + "   " +
                          (dir / "iotgw-tag.so").string()),
            std::string::npos)
      << r.output;
}

TEST(Cli, ListPluginsNamesABrokenPluginAndExitsTwo) {
  auto r =
      run(kIotgw, {"--list-plugins", "--plugins-dir", (kTestPlugins / "bad/wrong_major").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("iotgw-bad.so: ABI " + abi() + " expected"), std::string::npos)
      << r.output;
}

// The refusal `--list-plugins` prints for the one plugin in tests/plugins bad/<bad_case>.
std::string bad_plugin_refusal(const std::string& bad_case) {
  auto r =
      run(kIotgw, {"--list-plugins", "--plugins-dir", (kTestPlugins / "bad" / bad_case).string()});
  EXPECT_EQ(r.code, 2) << r.output;
  return r.output;
}

// A C author's usual slip, the entry point left hidden, is named in C terms too.
TEST(Cli, MissingEntryPointNamesTheCEntryPointBesideTheCxxMacros) {
  const auto out = bad_plugin_refusal("hidden_entry");
  EXPECT_NE(out.find("iotgw-bad.so: no entry point 'iotgw_plugin_entry' (C++: end the plugin with "
                     "IOTGW_ADAPTER_PLUGIN(Class) or IOTGW_STAGE_PLUGIN(Class); C: define "
                     "IOTGW_EXPORT const iotgw_plugin_descriptor* iotgw_plugin_entry(void)"),
            std::string::npos)
      << out;
}

TEST(Cli, WrongTypeRefusalsSayWhatWasGivenBesideWhatWasExpected) {
  auto out = bad_plugin_refusal("wrong_kind");
  EXPECT_NE(out.find("iotgw-bad.so: declares kind adapter but has no adapter table (it has a stage "
                     "table instead: was the kind meant to be a stage?)"),
            std::string::npos)
      << out;
  out = bad_plugin_refusal("unknown_key_type");
  EXPECT_NE(out.find("iotgw-bad.so: config key #1 'level' has type 9, not one of 1 "
                     "(IOTGW_CFG_STRING) to 7 (IOTGW_CFG_STRING_LIST)"),
            std::string::npos)
      << out;

  TempDir dir;
  auto r = check_topology(
      dir,
      "gateway: {plugins_dir: plugins}\n"
      "listeners:\n  - {name: l, adapter: line, bind: ':0', options: {max_line: [1, 2]}}\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("listener 'l': 'max_line' must be a size such as 512, 64KB or 1MiB, "
                          "not a list"),
            std::string::npos)
      << r.output;
}

TEST(Cli, DescribeListsKeysWithTypeDefaultAndDoc) {
  auto r = run(kIotgw, {"--describe", "line", "--plugins-dir", kPluginsDir.string()});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(
      r.output.find(
          "  max_inflight (int, default '16')\n      unacknowledged lines before reading pauses"),
      std::string::npos)
      << r.output;
  auto missing = run(kIotgw, {"--describe", "nope", "--plugins-dir", kPluginsDir.string()});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("no plugin named 'nope' (found: aes-gcm, auth-file, auth-sas, "
                                "coap, line, map, mqtt, zstd)"),
            std::string::npos)
      << missing.output;
}

TEST(Cli, VersionAndUsage) {
  auto v = run(kIotgw, {"--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.output.find("(plugin ABI " + abi() + ")"), std::string::npos) << v.output;
  auto bad = run(kIotgw, {"--bogus"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("unknown argument '--bogus'"), std::string::npos) << bad.output;
}

TEST(Cli, BindFailureNamesTheListenerAndAddress) {
  // Another program holds the port (without SO_REUSEPORT, so it shares with nobody).
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string where = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  TempDir dir;
  stock_plugins(dir / "plugins");
  write_file(dir / "gateway.yaml",
             "gateway: {plugins_dir: plugins}\nlisteners:\n"
             "  - {name: l, adapter: line, bind: '" +
                 where + "'}\n");
  auto r = run(kIotgw, {"--config", (dir / "gateway.yaml").string()});
  ::close(fd);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("listener 'l': cannot bind " + where + ": Address already in use"),
            std::string::npos)
      << r.output;
}

TEST(Cli, BindToANonAddressSaysSo) {
  TempDir dir;
  stock_plugins(dir / "plugins");
  write_file(dir / "gateway.yaml",
             "gateway: {plugins_dir: plugins}\nlisteners:\n  - {name: l, adapter: line, bind: "
             "'example.com:1'}\n");
  auto r = run(kIotgw, {"--config", (dir / "gateway.yaml").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("listener 'l': cannot bind example.com:1: not an IP address"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace iotgw::test
