// Bad topologies, each checked for its exact message: file:line:col, what is wrong, and what
// would be right. They go through the same parse and build steps as `iotgw --check` and a
// reload, with the real plugins loaded from .so files.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "config/model.hpp"
#include "iotgw/common/log.hpp"
#include "plugins/plugin.hpp"
#include "test_env.hpp"
#include "topology/plan.hpp"

namespace iotgw {
namespace {

using test::TempDir;

struct BadConfig {
  const char* name;
  const char* yaml;
  // '@' stands for the config file's path, '%' for the test folder. Matched whole, unless
  // prefix is set (messages quoted from yaml-cpp).
  const char* expected;
  bool prefix = false;
};

constexpr const char* kStages = R"(
stages:
  - name: shout
    plugin: tag
    config: {mode: upper}
)";

std::string valid_with(const std::string& listener_extra) {
  return std::string("gateway:\n  plugins_dir: plugins\n") + kStages +
         "listeners:\n  - name: lines\n    adapter: line\n    bind: 127.0.0.1:0\n" + listener_extra;
}

const BadConfig kCases[] = {
    {"yaml_syntax", "gateway:\n  threads: [1, 2\n", "@:3:1: YAML syntax error: ", true},
    {"empty_file", "", "@: the topology file is empty"},
    {"top_level_list", "- a\n- b\n",
     "@:1:1: topology: expected a mapping of keys (valid: gateway, bridge, stages, listeners)"},
    {"unknown_top_key", "gateways: {}\nlisteners: []\n",
     "@:1:1: topology: unknown key 'gateways' (valid: gateway, bridge, stages, listeners)"},
    {"gateway_misspelt_key", "gateway:\n  plugin_dir: plugins\n",
     "@:2:3: gateway: unknown key 'plugin_dir' (valid: plugins_dir, threads, drain_timeout, "
     "drain_rate, max_buffered_bytes, log_level, log_format, admin, watch)"},
    {"threads_not_int", "gateway:\n  plugins_dir: plugins\n  threads: many\n",
     "@:3:12: gateway: 'threads' must be an integer from 0 to 1024, not 'many'"},
    {"threads_negative", "gateway:\n  plugins_dir: plugins\n  threads: -1\n",
     "@:3:12: gateway: 'threads' must be an integer from 0 to 1024, not '-1'"},
    {"drain_timeout_bad", "gateway:\n  plugins_dir: plugins\n  drain_timeout: 10 parsecs\n",
     "@:3:18: gateway: 'drain_timeout' must be a duration such as 500ms, 10s, 5m or 1h, not '10 "
     "parsecs'"},
    {"log_level_bad", "gateway:\n  plugins_dir: plugins\n  log_level: loud\n",
     "@:3:14: gateway: log_level 'loud' is not one of trace, debug, info, warn, error"},
    {"log_format_bad", "gateway:\n  plugins_dir: plugins\n  log_format: xml\n",
     "@:3:15: gateway: unknown log_format 'xml' (valid: text, json)"},
    {"bridge_flavour", "bridge:\n  flavour: mqtt\n",
     "@:2:12: bridge: unknown flavour 'mqtt' (valid: loopback, iothub, amqp)"},
    {"bridge_url_scheme", "bridge:\n  flavour: amqp\n  url: http://hub:80\n",
     "@:3:8: bridge: url 'http://hub:80' is not amqp://host[:port] or amqps://host[:port]"},
    {"bridge_ca_without_tls", "bridge:\n  flavour: amqp\n  url: amqp://hub\n  ca_file: ca.pem\n",
     "@:4:12: bridge: 'ca_file' is for amqps:// urls"},
    {"bridge_sasl_bad", "bridge:\n  flavour: amqp\n  sasl: kerberos\n",
     "@:3:9: bridge: unknown sasl 'kerberos' (valid: anonymous, plain)"},
    {"bridge_plain_without_user", "bridge:\n  flavour: amqp\n  sasl: plain\n",
     "@:3:9: bridge: 'sasl: plain' needs 'user' and 'password' (flavour iothub with a policy makes "
     "them itself)"},
    {"bridge_user_without_plain", "bridge:\n  flavour: amqp\n  user: guest\n",
     "@:3:9: bridge: 'user' and 'password' need 'sasl: plain'"},
    {"bridge_policy_key_not_base64",
     "bridge:\n  flavour: iothub\n  hostname: h\n  policy: p\n  policy_key: not*base64\n",
     "@:5:15: bridge: 'policy_key' is not base64 (a shared access key)"},
    {"bridge_policy_key_and_file",
     "bridge:\n  flavour: iothub\n  hostname: h\n  policy: p\n  policy_key: a2V5\n"
     "  policy_key_file: key\n",
     "@:6:20: bridge: 'policy_key' and 'policy_key_file' are one or the other"},
    {"bridge_policy_key_file_missing",
     "bridge:\n  flavour: iothub\n  hostname: h\n  policy: p\n  policy_key_file: nowhere.key\n",
     "@:5:20: bridge: policy_key_file: %/nowhere.key: No such file or directory"},
    {"listener_proxy_protocol_on_udp",
     "listeners:\n  - {name: u, adapter: line, transport: udp, bind: ':0', proxy_protocol: v2}\n",
     "@:2:74: listener 'u': proxy_protocol is for tcp, tls, ws and wss listeners"},
    {"listener_proxy_protocol_v1",
     "listeners:\n  - {name: t, adapter: line, bind: ':0', proxy_protocol: v1}\n",
     "@:2:58: listener 't': unknown proxy_protocol 'v1' (valid: off, v2)"},
    {"plugins_dir_empty_list",
     "gateway: {plugins_dir: []}\nlisteners:\n  - {name: l, adapter: line, bind: ':0'}\n",
     "@:1:24: gateway: plugins_dir names no folder"},
    {"bridge_amqp_policy", "bridge:\n  flavour: amqp\n  policy: p\n  policy_key: a2V5\n",
     "@:3:11: bridge: flavour amqp has no device tokens: log in with 'sasl: plain' instead"},
    {"bridge_echo_bad", "bridge:\n  echo: maybe\n",
     "@:2:9: bridge: 'echo' must be true or false, not 'maybe'"},
    {"stages_not_list", "stages:\n  shout: {plugin: tag}\n",
     "@:2:3: stages: expected a list of stages"},
    {"stage_not_map", "stages:\n  - shout\n",
     "@:2:5: stage #1: expected a mapping of keys (valid: name, plugin, config)"},
    {"stage_missing_plugin", "stages:\n  - name: shout\n",
     "@:2:5: stage 'shout': missing required key 'plugin'"},
    {"stage_missing_name", "stages:\n  - plugin: tag\n",
     "@:2:5: stage #1: missing required key 'name'"},
    {"stage_bad_name", "stages:\n  - {name: sh out, plugin: tag}\n",
     "@:2:12: stage 'sh out': invalid name 'sh out' (letters, digits, '_', '-', '.'; at most 64)"},
    {"stage_duplicate", "stages:\n  - {name: shout, plugin: tag}\n  - {name: shout, plugin: tag}\n",
     "@:3:12: stage 'shout': duplicate stage name 'shout'"},
    {"stage_unknown_key", "stages:\n  - {name: shout, plugin: tag, confg: {}}\n",
     "@:2:32: stage 'shout': unknown key 'confg' (valid: name, plugin, config)"},
    {"stage_config_not_map", "stages:\n  - {name: shout, plugin: tag, config: [1]}\n",
     "@:2:40: stage 'shout': 'config' must be a mapping of keys"},
    {"listeners_missing", "gateway: {plugins_dir: plugins}\nlisteners:\n",
     "@: no listeners: the topology needs at least one"},
    {"listeners_not_list", "listeners: {lines: {}}\n",
     "@:1:12: listeners: expected a list of listeners"},
    {"listener_missing_adapter", "listeners:\n  - {name: lines, bind: '127.0.0.1:0'}\n",
     "@:2:5: listener 'lines': missing required key 'adapter'"},
    {"listener_missing_bind", "listeners:\n  - {name: lines, adapter: line}\n",
     "@:2:5: listener 'lines': missing required key 'bind'"},
    {"listener_misspelt_key",
     "listeners:\n  - {name: lines, adapter: line, bind: ':0', pipline: []}\n",
     "@:2:46: listener 'lines': unknown key 'pipline' (valid: name, adapter, transport, bind, "
     "tls, auth, "
     "pipeline, options, max_connections, max_connections_per_address, max_connection_rate, "
     "max_pending_handshakes, device_message_rate, device_byte_rate, proxy_protocol, websocket, "
     "udp)"},
    {"listener_bind_no_port", "listeners:\n  - {name: lines, adapter: line, bind: localhost}\n",
     "@:2:40: listener 'lines': bind 'localhost' is not host:port with a port from 0 to 65535"},
    {"listener_port_range",
     "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:70000'}\n",
     "@:2:40: listener 'lines': bind '127.0.0.1:70000' is not host:port with a port from 0 to "
     "65535"},
    {"listener_transport",
     "listeners:\n  - {name: lines, adapter: line, bind: ':0', transport: quic}\n",
     "@:2:57: listener 'lines': unknown transport 'quic' (valid: tcp, tls, ws, wss, udp, dtls)"},
    {"listener_max_connections",
     "listeners:\n  - {name: lines, adapter: line, bind: ':0', max_connections: 0}\n",
     "@:2:63: listener 'lines': 'max_connections' must be an integer from 1 to 10000000, not '0'"},
    {"listener_duplicate_name",
     "listeners:\n  - {name: a, adapter: line, bind: ':1'}\n  - {name: a, adapter: line, bind: "
     "':2'}\n",
     "@:3:12: listener 'a': duplicate listener name 'a'"},
    {"listener_duplicate_bind",
     "listeners:\n  - {name: a, adapter: line, bind: ':7'}\n  - {name: b, adapter: line, bind: "
     "'0.0.0.0:7'}\n",
     "@:3:36: listener 'b': bind 0.0.0.0:7 is already used by listener 'a'"},
    {"listener_unknown_stage", nullptr,
     "@:12:23: listener 'lines': unknown stage 'whisper' in pipeline (defined: shout)"},
    {"listener_stage_twice", nullptr,
     "@:12:23: listener 'lines': stage 'shout' appears twice in pipeline"},
    // From here on the YAML is well formed and the plugins decide.
    {"plugins_dir_missing",
     "gateway: {plugins_dir: nowhere}\nlisteners:\n  - {name: l, adapter: line, bind: ':0'}\n",
     "@:1:24: plugin %/nowhere: plugins directory does not exist or is not a directory"},
    {"stage_unknown_plugin",
     "gateway: {plugins_dir: plugins}\nstages:\n  - {name: pack, plugin: brotli}\n"
     "listeners:\n  - {name: l, adapter: line, bind: ':0'}\n",
     "@:3:26: stage 'pack': unknown stage plugin 'brotli' (available: aes-gcm, auth-file, "
     "auth-sas, "
     "map, tag, zstd)"},
    {"stage_plugin_is_adapter",
     "gateway: {plugins_dir: plugins}\nstages:\n  - {name: s, plugin: line}\n"
     "listeners:\n  - {name: l, adapter: line, bind: ':0'}\n",
     "@:3:23: stage 's': plugin 'line' is adapter, not stage (stage plugins: aes-gcm, auth-file, "
     "auth-sas, "
     "map, tag, zstd)"},
    {"adapter_is_stage",
     "gateway: {plugins_dir: plugins}\nlisteners:\n  - {name: l, adapter: tag, bind: ':0'}\n",
     "@:3:24: listener 'l': plugin 'tag' is stage, not adapter (adapter plugins: coap, line, "
     "mqtt)"},
    {"stage_config_unknown_key",
     "gateway: {plugins_dir: plugins}\nstages:\n"
     "  - {name: s, plugin: tag, config: {mod: upper}}\nlisteners:\n  - {name: l, adapter: line, "
     "bind: ':0'}\n",
     "@:3:37: stage 's': unknown key 'mod' (valid: mode, property, direction, reject_if, secret, "
     "peer_prefix, cert, transport, path, header)"},
    {"stage_config_refused",
     "gateway: {plugins_dir: plugins}\nstages:\n"
     "  - {name: s, plugin: tag, config: {mode: sideways}}\nlisteners:\n  - {name: l, adapter: "
     "line, bind: ':0'}\n",
     "@:3:37: stage 's': plugin 'tag' refused the configuration: mode 'sideways' is not upper, "
     "lower or none"},
    {"listener_tls_without_transport",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, bind: ':0', tls: {cert_file: c.pem, key_file: k.pem}}\n",
     "@:3:47: listener 'l': 'tls' settings need 'transport: tls', 'wss' or 'dtls'"},
    {"listener_udp_without_datagrams",
     "stages: []\nlisteners:\n"
     "  - {name: l, adapter: line, bind: ':0', udp: {idle_timeout: 5s}}\n",
     "@:3:47: listener 'l': 'udp' settings need 'transport: udp' or 'transport: dtls'"},
    {"listener_udp_misspelt_key",
     "stages: []\nlisteners:\n"
     "  - {name: l, adapter: line, transport: udp, bind: ':0', udp: {idle: 5s}}\n",
     "@:3:64: listener 'l' udp: unknown key 'idle' (valid: idle_timeout, max_datagram, queue, "
     "handshake_timeout)"},
    {"listener_udp_datagram_size",
     "stages: []\nlisteners:\n"
     "  - {name: l, adapter: line, transport: udp, bind: ':0', udp: {max_datagram: 70000}}\n",
     "@:3:78: listener 'l' udp: 'max_datagram' must be a size from 64 to 65507 bytes (such as "
     "8KB or 1MiB), not '70000'"},
    {"listener_dtls_key_without_certificate",
     "stages: []\nlisteners:\n"
     "  - {name: l, adapter: line, transport: dtls, bind: ':0', tls: {key_file: k.pem}}\n",
     "@:3:64: listener 'l' tls: missing required key 'cert_file'"},
    {"listener_tls_missing",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, transport: tls, bind: ':0'}\n",
     "@:3:41: listener 'l': transport tls needs 'tls: {cert_file, key_file}'"},
    {"listener_tls_client_cert_without_ca",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, transport: tls, bind: ':0',\n"
     "     tls: {cert_file: c.pem, key_file: k.pem, client_cert: required}}\n",
     "@:4:60: listener 'l' tls: client_cert required needs 'ca_file' to verify them"},
    {"listener_websocket_misspelt_key",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, transport: ws, bind: ':0', websocket: {pth: /x}}\n",
     "@:3:69: listener 'l' websocket: unknown key 'pth' (valid: path, subprotocols, origins, "
     "max_upgrade_size, upgrade_timeout, max_message)"},
    {"listener_websocket_without_ws",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, bind: ':0', websocket: {path: /x}}\n",
     "@:3:53: listener 'l': 'websocket' settings need 'transport: ws' or 'transport: wss'"},
    {"listener_wss_without_tls",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, transport: wss, bind: ':0'}\n",
     "@:3:41: listener 'l': transport wss needs 'tls: {cert_file, key_file}'"},
    {"listener_websocket_size",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, transport: ws, bind: ':0', websocket: {max_upgrade_size: "
     "lots}}\n",
     "@:3:87: listener 'l' websocket: 'max_upgrade_size' must be a size from 512 to 1048576 bytes "
     "(such as 8KB or 1MiB), not 'lots'"},
    {"listener_websocket_no_subprotocols",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, transport: ws, bind: ':0', websocket: {subprotocols: []}}\n",
     "@:3:83: listener 'l' websocket: 'subprotocols' must name at least one (IoT Hub's MQTT: "
     "mqtt)"},
    {"listener_websocket_path",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, transport: ws, bind: ':0', websocket: {path: mqtt}}\n",
     "@:3:75: listener 'l' websocket: 'path' must start with '/' and have no query, not 'mqtt'"},
    {"listener_websocket_timeout",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: mqtt, transport: ws, bind: ':0', websocket: {upgrade_timeout: "
     "soon}}\n",
     "@:3:86: listener 'l' websocket: 'upgrade_timeout' must be a duration such as 500ms, 10s, 5m "
     "or 1h, not 'soon'"},
    {"listener_option_unknown",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: line, bind: ':0', options: {max_lines: 5}}\n",
     "@:3:52: listener 'l': unknown key 'max_lines' (valid: max_line, max_inflight, idle_timeout, "
     "greeting)"},
    {"listener_option_type",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: line, bind: ':0', options: {max_line: big}}\n",
     "@:3:62: listener 'l': 'max_line' must be a size such as 512, 64KB or 1MiB, not 'big'"},
    {"listener_option_refused",
     "gateway: {plugins_dir: plugins}\nlisteners:\n"
     "  - {name: l, adapter: line, bind: ':0', options: {max_inflight: 0}}\n",
     "@:3:52: listener 'l': plugin 'line' refused the configuration: max_inflight must be from 1 "
     "to 65535"},
};

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

void PrintTo(const BadConfig& c, std::ostream* os) {
  *os << c.name;
}

std::string substitute(std::string s, const std::string& file, const std::string& dir) {
  for (std::size_t at; (at = s.find('@')) != std::string::npos;) s.replace(at, 1, file);
  for (std::size_t at; (at = s.find('%')) != std::string::npos;) s.replace(at, 1, dir);
  return s;
}

TEST_P(BadConfigTest, ReportsExactlyItsError) {
  const auto& c = GetParam();
  TempDir dir;
  test::stock_plugins(dir / "plugins");
  const auto file = dir / "gateway.yaml";
  std::string yaml;
  if (c.yaml != nullptr) {
    yaml = c.yaml;
  } else if (std::string(c.name) == "listener_unknown_stage") {
    yaml = valid_with("    pipeline: [shout, whisper]\n");
  } else {
    yaml = valid_with("    pipeline: [shout, shout]\n");
  }
  if (!yaml.empty() && !c.prefix && yaml.find("listeners") == std::string::npos) {
    yaml += "listeners:\n  - {name: l, adapter: line, bind: ':0'}\n";  // isolates the case's error
  }
  test::write_file(file, yaml);

  config::Diagnostics diags;
  auto model = config::parse_topology(file, diags);
  if (model) {
    Logger quiet(LogLevel::error);
    plugins::PrivateCopies copies;
    auto plan = topology::build_plan(*model, copies, quiet, diags);
    EXPECT_FALSE(plan.has_value());
  }
  ASSERT_EQ(diags.size(), 1U) << diags.str();
  const std::string expected = substitute(c.expected, file.string(), dir.path().string());
  const std::string got = diags.all().front().str();
  if (c.prefix) {
    EXPECT_EQ(got.substr(0, expected.size()), expected) << got;
  } else {
    EXPECT_EQ(got, expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BadConfigTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// A topology file parsed and planned with the real plugins; the private copies of the plugins
// live as long as the plan that loaded them.
struct Planned {
  config::Diagnostics diags;
  plugins::PrivateCopies copies;
  std::optional<topology::Plan> plan;

  static std::unique_ptr<Planned> of(const std::filesystem::path& file) {
    auto p = std::make_unique<Planned>();
    auto model = config::parse_topology(file, p->diags);
    if (!model) return p;
    Logger quiet(LogLevel::error);
    p->plan = topology::build_plan(*model, p->copies, quiet, p->diags);
    return p;
  }
};

TEST(GoodConfig, ValidTopologyBuildsWithRealPlugins) {
  TempDir dir;
  test::stock_plugins(dir / "plugins");
  const auto file = dir / "gateway.yaml";
  test::write_file(
      file, valid_with("    pipeline: [shout]\n    options: {max_line: 1KB, idle_timeout: 30s}\n"));
  auto planned = Planned::of(file);
  const auto& plan = planned->plan;
  ASSERT_TRUE(plan) << planned->diags.str();
  ASSERT_EQ(plan->listeners.size(), 1U);
  EXPECT_EQ(plan->listeners[0].pipeline->transforms().size(), 1U);
  EXPECT_EQ(plan->listeners[0].spec.bind.host, "127.0.0.1");
}

TEST(GoodConfig, ReportsEveryErrorNotJustTheFirst) {
  TempDir dir;
  const auto file = dir / "gateway.yaml";
  test::write_file(file, "gateway:\n  threads: x\n  log_level: y\nbridge: {flavour: z}\n");
  config::Diagnostics diags;
  EXPECT_FALSE(config::parse_topology(file, diags));
  EXPECT_EQ(diags.size(), 4U) << diags.str();  // threads, log_level, flavour, no listeners
}

TEST(GoodConfig, PluginsComeFromTheFirstFolderThatHasThem) {
  TempDir dir;
  test::stock_plugins(dir / "shipped");
  // A drop-in folder holding one plugin of a shipped name: that one is used, the rest are the
  // shipped ones.
  std::filesystem::create_directories(dir / "drop-in");
  std::filesystem::copy_file(dir / "shipped" / "iotgw-tag.so", dir / "drop-in" / "iotgw-tag.so");
  const auto file = dir / "gateway.yaml";
  test::write_file(file, std::string("gateway:\n  plugins_dir: [drop-in, shipped]\n") + kStages +
                             "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0'}\n");
  auto planned = Planned::of(file);
  const auto& plan = planned->plan;
  ASSERT_TRUE(plan) << planned->diags.str();
  EXPECT_EQ(plan->catalog.find("tag")->path().parent_path().filename(), "drop-in");
  EXPECT_EQ(plan->catalog.find("line")->path().parent_path().filename(), "shipped");
}

TEST(GoodConfig, WithoutPluginsDirTheFolderBesideThenTheInstalledOnes) {
  TempDir dir;
  const auto file = dir / "gateway.yaml";
  test::write_file(file, "listeners:\n  - {name: l, adapter: line, bind: ':0'}\n");
  config::Diagnostics diags;
  auto model = config::parse_topology(file, diags);
  ASSERT_TRUE(model) << diags.str();
  const auto& dirs = model->gateway.plugin_dirs;
  ASSERT_EQ(dirs.size(), 2U);
  EXPECT_EQ(dirs[0].path, (dir / "plugins").lexically_normal());
  EXPECT_EQ(dirs[1].path.filename(), "plugins");
  EXPECT_EQ(dirs[1].path.parent_path().filename(), "iotgw");
  EXPECT_FALSE(dirs[0].required || dirs[1].required);
  // Neither exists here (a test binary has no installed plugins beside it): one clear error.
  Logger quiet(LogLevel::error);
  plugins::PrivateCopies copies;
  EXPECT_FALSE(topology::build_plan(*model, copies, quiet, diags));
  ASSERT_EQ(diags.size(), 1U) << diags.str();
  EXPECT_NE(diags.str().find("no plugins folder: looked in " + dirs[0].path.string()),
            std::string::npos)
      << diags.str();
}

TEST(GoodConfig, ThePolicyKeyFromAFileOfItsOwn) {
  TempDir dir;
  const auto key = dir / "policy.key";
  test::write_file(key, "a2V5LWZyb20tYS1maWxl\n");
  std::filesystem::permissions(
      key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto file = dir / "gateway.yaml";
  test::write_file(
      file,
      "bridge: {flavour: iothub, hostname: h, policy: p, policy_key_file: policy.key}\n"
      "listeners:\n  - {name: l, adapter: line, bind: ':0'}\n");
  config::Diagnostics diags;
  auto model = config::parse_topology(file, diags);
  ASSERT_TRUE(model) << diags.str();
  EXPECT_EQ(model->bridge.policy_key, "a2V5LWZyb20tYS1maWxl");
  // Readable by others: refused, naming the file.
  std::filesystem::permissions(key, std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  config::Diagnostics again;
  EXPECT_FALSE(config::parse_topology(file, again));
  EXPECT_NE(again.str().find(key.string() + ": readable by others"), std::string::npos)
      << again.str();
}

}  // namespace
}  // namespace iotgw
