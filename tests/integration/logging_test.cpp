// What iotgw writes to stderr, where logging is the behaviour: JSON lines a log shipper can read,
// the log format chosen by topology, command line and reload, and a flood of one client error
// collapsed into a bounded number of lines and a count.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <nlohmann/json.hpp>
#include <sstream>

#include "process.hpp"
#include "test_env.hpp"

namespace iotgw::test {
namespace {

const std::string kScripts = std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/logs/";

std::string mqtt_topology(const std::string& gateway_more = "") {
  return "gateway: {plugins_dir: plugins, threads: 2" + gateway_more +
         "}\n"
         "listeners:\n"
         "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0'}\n";
}

// iotgw on `topology` with `args`, in a folder of its own; its stderr is the test's subject.
class Gateway {
 public:
  Gateway(const std::string& topology, std::vector<std::string> args = {}) {
    stock_plugins(dir_ / "plugins");
    write_file(dir_ / "gateway.yaml", topology);
    args.insert(args.begin(), {"--config", (dir_ / "gateway.yaml").string()});
    process_ = std::make_unique<Process>(kIotgw, args, dir_ / "iotgw.log");
  }
  // The MQTT listener's port, from its "listening on" line in either format.
  std::uint16_t port() const {
    auto p = process_->wait_for(R"(listening on 127\.0\.0\.1:([0-9]+))");
    if (!p) throw std::runtime_error("no port logged:\n" + process_->output());
    return static_cast<std::uint16_t>(std::stoi(*p));
  }
  void reload(const std::string& topology) {
    write_file(dir_ / "gateway.yaml", topology);
    process_->signal(SIGHUP);
    ASSERT_TRUE(process_->wait_for("reload #1 ok")) << process_->output();
  }
  // SIGTERM; the log is complete once iotgw has exited 0.
  void stop() {
    process_->signal(SIGTERM);
    ASSERT_EQ(process_->wait_exit(std::chrono::seconds(15)), 0) << process_->output();
  }
  std::filesystem::path log() const { return dir_ / "iotgw.log"; }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(process_->output());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

void malformed_connections(std::uint16_t port, int n) {
  const auto r = run("/usr/bin/python3", {kScripts + "malformed_mqtt_burst.py",
                                          std::to_string(port), std::to_string(n)});
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_EQ(r.output, std::to_string(n) + "\n");
}

// Python's json module, not the library that wrote the lines, reads them.
nlohmann::json json_summary(const std::filesystem::path& log) {
  const auto r = run("/usr/bin/python3", {kScripts + "json_lines.py", log.string()});
  EXPECT_EQ(r.code, 0) << r.output;
  return nlohmann::json::parse(r.output);
}

TEST(Logging, LogFormatJsonOnTheCommandLineMakesEveryLineAJsonObject) {
  Gateway gw(mqtt_topology(), {"--log-format", "json", "--log-level", "debug"});
  malformed_connections(gw.port(), 1);
  gw.stop();
  const auto summary = json_summary(gw.log());
  EXPECT_GE(summary["lines"].get<int>(), 4);
  const auto& components = summary["components"];
  EXPECT_TRUE(components.contains("gateway")) << summary;        // the host's own lines
  EXPECT_TRUE(components.contains("listener mqtt")) << summary;  // a plugin's, via the host api
  // The malformed packet, written by the plugin and sent on by the host.
  const auto& warnings = summary["warnings"];
  EXPECT_EQ(
      std::count_if(warnings.begin(), warnings.end(),
                    [](const nlohmann::json& w) {
                      return w.get<std::string>().starts_with("listener mqtt: malformed packet");
                    }),
      1)
      << summary;
  EXPECT_TRUE(summary["levels"].contains("debug")) << summary;
}

TEST(Logging, AnUnknownLogFormatIsRefusedWithTheChoices) {
  const auto r = run(kIotgw, {"--config", "x.yaml", "--log-format", "xml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--log-format: 'xml' is not one of text, json"), std::string::npos)
      << r.output;
  const auto hub = run(kHub, {"--registry", "x.yaml", "--log-format", "xml"});
  EXPECT_EQ(hub.code, 2);
  EXPECT_NE(hub.output.find("--log-format takes text or json"), std::string::npos) << hub.output;
}

TEST(Logging, IotgwHubWritesJsonLinesToo) {
  TempDir dir;
  write_file(dir / "registry.yaml", "hostname: localhub.azure-devices.net\ndevices: []\n");
  Process hub(kHub,
              {"--registry", (dir / "registry.yaml").string(), "--listen", "127.0.0.1:0",
               "--log-format", "json"},
              dir / "hub.log");
  ASSERT_TRUE(hub.wait_for("listening on 127")) << hub.output();
  hub.signal(SIGTERM);
  ASSERT_EQ(hub.wait_exit(std::chrono::seconds(15)), 0) << hub.output();
  const auto summary = json_summary(dir / "hub.log");
  EXPECT_GE(summary["lines"].get<int>(), 1);
  EXPECT_TRUE(summary["components"].contains("hub")) << summary;
}

TEST(Logging, TheTopologyChoosesJsonAndTheCommandLineOverridesIt) {
  {
    Gateway gw(mqtt_topology(", log_format: json"));
    gw.port();
    gw.stop();
    EXPECT_GE(json_summary(gw.log())["lines"].get<int>(), 3);
  }
  Gateway gw(mqtt_topology(", log_format: json"), {"--log-format", "text"});
  gw.port();
  gw.stop();
  for (const auto& line : gw.lines()) EXPECT_NE(line.front(), '{') << line;
}

TEST(Logging, AReloadSwitchesTheFormat) {
  Gateway gw(mqtt_topology());
  gw.port();
  gw.reload(mqtt_topology(", log_format: json"));
  gw.stop();
  const auto lines = gw.lines();
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front().front(), '2') << lines.front();  // text starts with the time
  const auto last = nlohmann::json::parse(lines.back());
  EXPECT_EQ(last["component"], "gateway");
  EXPECT_EQ(last["message"], "stopped");
}

// 200 connections fail the same way at once: a handful of lines are written, the rest are
// counted, and every one of the 200 is accounted for by a line or a count.
TEST(Logging, ABurstOfMalformedConnectionsIsBoundedAndCounted) {
  Gateway gw(mqtt_topology(", log_format: json"));
  malformed_connections(gw.port(), 200);
  gw.stop();
  std::uint64_t written = 0, suppressed = 0, summaries = 0;
  for (const auto& line : gw.lines()) {
    const auto j = nlohmann::json::parse(line);
    if (j["component"] != "listener mqtt" || j["level"] != "warn") continue;
    if (j.contains("suppressed")) {
      ++summaries;
      suppressed += std::stoull(j["suppressed"].get<std::string>());
      EXPECT_EQ(j["message"],
                "suppressed " + j["suppressed"].get<std::string>() + " similar lines");
      EXPECT_TRUE(j["like"].get<std::string>().starts_with("malformed packet")) << line;
    } else {
      EXPECT_TRUE(j["message"].get<std::string>().starts_with("malformed packet")) << line;
      ++written;
    }
  }
  EXPECT_GE(summaries, 1U);
  EXPECT_LT(written, 200U);
  EXPECT_EQ(written + suppressed, 200U);
}

}  // namespace
}  // namespace iotgw::test
