#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config/install_layout.hpp"
#include "config/model.hpp"
#include "config/schema.hpp"
#include "iotgw/common/sas_token.hpp"
#include "iotgw/common/secret_file.hpp"
#include "iotgw/common/units.hpp"

namespace iotgw::config {

namespace {

// Valid keys and choices come from the declared schema, which --describe-topology prints.
const std::vector<std::string> kTopKeys = schema::key_names("topology");
const std::vector<std::string> kGatewayKeys = schema::key_names("gateway");
const std::vector<std::string> kLogFormats = schema::choices("gateway", "log_format");
const std::vector<std::string> kAdminKeys = schema::key_names("gateway.admin");
const std::vector<std::string> kBridgeKeys = schema::key_names("bridge");
const std::vector<std::string> kFlavours = schema::choices("bridge", "flavour");
const std::vector<std::string> kSaslMechanisms = schema::choices("bridge", "sasl");
const std::vector<std::string> kStageKeys = schema::key_names("stages[]");
const std::vector<std::string> kListenerKeys = schema::key_names("listeners[]");
const std::vector<std::string> kTransports = schema::choices("listeners[]", "transport");
const std::vector<std::string> kProxyProtocols = schema::choices("listeners[]", "proxy_protocol");
const std::vector<std::string> kUdpKeys = schema::key_names("listeners[].udp");
const std::vector<std::string> kWebSocketKeys = schema::key_names("listeners[].websocket");
const std::vector<std::string> kTlsKeys = schema::key_names("listeners[].tls");
const std::vector<std::string> kClientCert = schema::choices("listeners[].tls", "client_cert");
const std::vector<std::string> kTlsVersions = schema::choices("listeners[].tls", "min_version");

PluginOptions options_of(MapReader& r, const std::string& key, Diagnostics& diags) {
  PluginOptions o;
  o.mark = r.mark(key);
  if (!r.has(key)) return o;
  o.node = r.node(key);
  if (!o.node.IsMap()) {
    diags.add(o.mark, r.what() + ": '" + key + "' must be a mapping of keys");
    o.node = YAML::Node();
    o.reported = true;
  }
  return o;
}

void parse_admin(const YAML::Node& n, const std::filesystem::path& file,
                 const std::filesystem::path& base, GatewaySpec& g, Diagnostics& diags) {
  MapReader r(n, file.string(), "gateway.admin", kAdminKeys, diags);
  if (!r.ok()) return;
  AdminSpec admin;
  admin.mark = r.mark();
  auto bind = r.string("bind", true);
  if (!bind) return;
  const auto ep = parse_endpoint(*bind);
  if (!ep) {
    r.error("bind", "bind '" + *bind + "' is not host:port");
    return;
  }
  admin.bind = ep->str();
  if (auto token = r.string("token_file")) admin.token_file = (base / *token).lexically_normal();
  g.admin = std::move(admin);
}

void parse_gateway(const YAML::Node& n, const std::filesystem::path& file, Topology& t,
                   Diagnostics& diags) {
  MapReader r(n, file.string(), "gateway", kGatewayKeys, diags);
  const auto base = t.file.parent_path();
  if (!r.has("plugins_dir")) {
    // Plugins dropped beside the topology, then the ones installed with this binary.
    t.gateway.plugin_dirs = {{(base / "plugins").lexically_normal(), r.mark(), false},
                             {installed_plugins_dir(), r.mark(), false}};
  } else if (auto dirs = r.names("plugins_dir", "folders")) {
    for (const auto& d : *dirs) {
      t.gateway.plugin_dirs.push_back({(base / d.name).lexically_normal(), d.mark, true});
    }
    if (dirs->empty()) r.error("plugins_dir", "plugins_dir names no folder");
  }
  if (auto threads = r.integer("threads", 0, 1024))
    t.gateway.threads = static_cast<unsigned>(*threads);
  if (auto d = r.duration("drain_timeout")) t.gateway.drain_timeout = *d;
  if (auto rate = r.integer("drain_rate", 0, 1'000'000))
    t.gateway.drain_rate = static_cast<unsigned>(*rate);
  if (auto size = r.size("max_buffered_bytes", 0, std::uint64_t{1} << 40))
    t.gateway.max_buffered_bytes = *size;
  if (auto w = r.boolean("watch")) t.gateway.watch = *w;
  if (r.has("admin")) parse_admin(r.node("admin"), file, base, t.gateway, diags);
  if (auto lvl = r.string("log_level")) {
    t.gateway.log_level = parse_log_level(*lvl);
    if (!t.gateway.log_level) {
      r.error("log_level",
              "log_level '" + *lvl + "' is not one of trace, debug, info, warn, error");
    }
  }
  if (auto f = r.one_of("log_format", kLogFormats, "log_format"))
    t.gateway.log_format = parse_log_format(*f);
}

// `key`_file: the secret `key` read from a file of its own; one or the other. True when read.
bool read_secret(MapReader& r, const std::filesystem::path& base, const std::string& key,
                 std::string& secret) {
  const std::string file_key = key + "_file";
  auto path = r.string(file_key);
  if (!path) return false;
  if (r.has(key)) {
    r.error(file_key, "'" + key + "' and '" + file_key + "' are one or the other");
    return false;
  }
  auto read = read_secret_file((base / *path).lexically_normal());
  if (auto* e = std::get_if<SecretFileError>(&read)) {
    r.error(file_key, file_key + ": " + e->why);
    return false;
  }
  secret = std::get<std::string>(std::move(read));
  return true;
}

void parse_bridge(const YAML::Node& n, const std::filesystem::path& file, Topology& t,
                  Diagnostics& diags) {
  MapReader r(n, file.string(), "bridge", kBridgeKeys, diags);
  t.bridge.mark = r.mark();
  if (auto f = r.one_of("flavour", kFlavours, "flavour")) t.bridge.flavour = *f;
  if (auto e = r.boolean("echo")) t.bridge.echo = *e;
  if (auto url = r.string("url")) {
    std::string rest = *url;
    bool ok = true;
    if (rest.rfind("amqps://", 0) == 0) {
      rest = rest.substr(8);
      t.bridge.tls = true;
      t.bridge.port = "5671";
    } else if (rest.rfind("amqp://", 0) == 0) {
      rest = rest.substr(7);
    } else {
      ok = false;
    }
    if (ok && rest.find(':') == std::string::npos) rest += ":" + t.bridge.port;
    auto ep = ok ? parse_endpoint(rest) : std::nullopt;
    if (!ep || ep->port == 0) {
      r.error("url", "url '" + *url + "' is not amqp://host[:port] or amqps://host[:port]");
    } else {
      t.bridge.host = ep->host;
      t.bridge.port = std::to_string(ep->port);
    }
  }
  if (auto ca = r.string("ca_file")) {
    t.bridge.ca_file = *ca;
    if (!t.bridge.tls) r.error("ca_file", "'ca_file' is for amqps:// urls");
  }
  if (auto h = r.string("hostname")) t.bridge.hostname = *h;
  if (auto m = r.one_of("sasl", kSaslMechanisms, "sasl")) t.bridge.sasl = *m;
  if (auto u = r.string("user")) t.bridge.user = *u;
  if (auto p = r.string("password")) t.bridge.password = *p;
  read_secret(r, t.file.parent_path(), "password", t.bridge.password);
  if (auto p = r.string("policy")) t.bridge.policy = *p;
  if (auto k = r.string("policy_key")) t.bridge.policy_key = *k;
  if (read_secret(r, t.file.parent_path(), "policy_key", t.bridge.policy_key) ||
      r.has("policy_key")) {
    const auto key = sas::base64_decode(t.bridge.policy_key);
    if (!key || key->empty()) {
      const std::string at = r.has("policy_key") ? "policy_key" : "policy_key_file";
      r.error(at, "'" + at + "' is not base64 (a shared access key)");
    }
  }
  if (auto ttl = r.duration("token_ttl")) t.bridge.token_ttl = *ttl;
  if (auto a = r.string("telemetry_address")) t.bridge.telemetry_address = *a;
  if (auto a = r.string("c2d_address")) t.bridge.c2d_address = *a;
  if (auto idle = r.duration("idle_close")) t.bridge.idle_close = *idle;
  if (auto wait = r.duration("attach_timeout")) t.bridge.attach_timeout = *wait;
  if (auto idle = r.duration("idle_timeout")) t.bridge.idle_timeout = *idle;
  if (auto d = r.boolean("durable")) t.bridge.durable = *d;
  if (t.bridge.flavour == "iothub" && t.bridge.hostname.empty()) {
    r.error("hostname",
            "flavour iothub needs 'hostname' (the hub's name, e.g. myhub.azure-devices.net)");
  }
  if (t.bridge.policy.empty() != (t.bridge.policy_key.empty() && !r.has("policy_key_file"))) {
    r.error("policy", "'policy' and 'policy_key' go together");
  }
  if (t.bridge.flavour == "amqp" && !t.bridge.policy.empty()) {
    r.error("policy", "flavour amqp has no device tokens: log in with 'sasl: plain' instead");
  }
  if (t.bridge.sasl == "plain" && t.bridge.user.empty() &&
      !(t.bridge.flavour == "iothub" && !t.bridge.policy.empty())) {
    r.error("sasl",
            "'sasl: plain' needs 'user' and 'password' (flavour iothub with a policy "
            "makes them itself)");
  }
  if (t.bridge.sasl != "plain" && (!t.bridge.user.empty() || !t.bridge.password.empty())) {
    r.error(t.bridge.user.empty() ? "password" : "user",
            "'user' and 'password' need 'sasl: plain'");
  }
  if (t.bridge.telemetry_address.empty()) {
    r.error("telemetry_address", "'telemetry_address' must not be empty");
  }
}

// A path in the topology, relative to the topology file's folder.
std::string relative_to(const std::filesystem::path& file, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? path : (file.parent_path() / p).lexically_normal().string();
}

// `certificate`: whether cert_file and key_file are required (DTLS may serve pre-shared keys
// alone).
bool parse_tls(const YAML::Node& n, const std::filesystem::path& file, const std::string& what,
               TlsSpec& tls, Diagnostics& diags, bool certificate = true) {
  MapReader r(n, file.string(), what + " tls", kTlsKeys, diags);
  if (!r.ok()) return false;
  const auto errors = diags.size();
  // One without the other is a mistake even where neither is required.
  auto cert = r.string("cert_file", certificate || r.has("key_file"));
  auto key = r.string("key_file", certificate || r.has("cert_file"));
  if (cert) tls.cert_file = relative_to(file, *cert);
  if (key) tls.key_file = relative_to(file, *key);
  if (auto ca = r.string("ca_file")) tls.ca_file = relative_to(file, *ca);
  if (auto c = r.one_of("client_cert", kClientCert, "client_cert")) tls.client_cert = *c;
  if (auto v = r.one_of("min_version", kTlsVersions, "min_version")) tls.min_version = *v;
  if (tls.client_cert != "none" && tls.ca_file.empty()) {
    r.error("client_cert", "client_cert " + tls.client_cert + " needs 'ca_file' to verify them");
  }
  return diags.size() == errors;
}

// A list of strings (or one), each a token: no spaces or commas, which HTTP headers split on.
std::optional<std::vector<std::string>> tokens(MapReader& r, const std::string& key) {
  auto refs = r.names(key);
  if (!refs) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& ref : *refs) {
    if (ref.name.empty() || ref.name.find_first_of(" ,\t") != std::string::npos) {
      r.error(key,
              "'" + key + "' has '" + ref.name + "', which is not a token (no spaces or commas)");
      return std::nullopt;
    }
    out.push_back(ref.name);
  }
  return out;
}

bool parse_websocket(const YAML::Node& n, const std::filesystem::path& file,
                     const std::string& what, WebSocketSpec& ws, Diagnostics& diags) {
  MapReader r(n, file.string(), what + " websocket", kWebSocketKeys, diags);
  if (!r.ok()) return false;
  const auto errors = diags.size();
  if (auto path = r.string("path")) {
    ws.path = *path;
    if (path->empty() || path->front() != '/' || path->find('?') != std::string::npos) {
      r.error("path", "'path' must start with '/' and have no query, not '" + *path + "'");
    }
  }
  if (!r.has("subprotocols")) {
    // the default stays
  } else if (auto protocols = tokens(r, "subprotocols")) {
    ws.subprotocols = *protocols;
    if (protocols->empty()) {
      r.error("subprotocols", "'subprotocols' must name at least one (IoT Hub's MQTT: mqtt)");
    }
  }
  if (auto origins = r.names("origins")) {
    ws.origins.clear();
    for (const auto& o : *origins) ws.origins.push_back(o.name);
  }
  if (auto size = r.size("max_upgrade_size", 512, std::uint64_t{1024} * 1024))
    ws.max_upgrade_size = *size;
  if (auto timeout = r.duration("upgrade_timeout")) {
    ws.upgrade_timeout = *timeout;
    if (timeout->count() <= 0) r.error("upgrade_timeout", "'upgrade_timeout' must be above 0");
  }
  if (auto size = r.size("max_message", 16, std::uint64_t{64} * 1024 * 1024)) {
    ws.max_message = *size;
  }
  return diags.size() == errors;
}

bool parse_udp(const YAML::Node& n, const std::filesystem::path& file, const std::string& what,
               UdpSpec& udp, Diagnostics& diags) {
  MapReader r(n, file.string(), what + " udp", kUdpKeys, diags);
  if (!r.ok()) return false;
  const auto errors = diags.size();
  auto positive = [&](const char* key, std::chrono::milliseconds& into) {
    if (auto d = r.duration(key)) {
      into = *d;
      if (d->count() <= 0) r.error(key, std::string("'") + key + "' must be above 0");
    }
  };
  positive("idle_timeout", udp.idle_timeout);
  positive("handshake_timeout", udp.handshake_timeout);
  // 65507: the largest UDP payload over IPv4.
  if (auto size = r.size("max_datagram", 64, 65'507)) udp.max_datagram = *size;
  if (auto q = r.integer("queue", 1, 100'000)) udp.queue = static_cast<std::uint64_t>(*q);
  return diags.size() == errors;
}

// "stage 'shout'" when the item names itself, else "stage #2": what messages call an item.
std::string item_name(const YAML::Node& item, const std::string& kind, std::size_t index) {
  if (item.IsMap() && item["name"].IsDefined() && item["name"].IsScalar()) {
    return kind + " '" + item["name"].Scalar() + "'";
  }
  return kind + " #" + std::to_string(index);
}

// The item's name, if present, well formed and not taken by an earlier item.
std::optional<std::string> unique_name(MapReader& r, const std::string& kind,
                                       std::set<std::string>& seen) {
  auto name = r.string("name", true);
  if (!name) return std::nullopt;
  if (!valid_name(*name)) {
    r.error("name", "invalid name '" + *name + "' (letters, digits, '_', '-', '.'; at most 64)");
    return std::nullopt;
  }
  if (!seen.insert(*name).second) {
    r.error("name", "duplicate " + kind + " name '" + *name + "'");
    return std::nullopt;
  }
  return name;
}

void parse_stages(const YAML::Node& n, const std::filesystem::path& file, Topology& t,
                  Diagnostics& diags) {
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsSequence()) {
    diags.add(mark_of(file.string(), n), "stages: expected a list of stages");
    return;
  }
  std::set<std::string> seen;
  for (const auto& item : n) {
    MapReader r(item, file.string(), item_name(item, "stage", t.stages.size() + 1), kStageKeys,
                diags, false);
    if (!r.ok()) continue;
    StageSpec s;
    s.mark = r.mark();
    auto name = unique_name(r, "stage", seen);
    auto plugin = r.string("plugin", true);
    s.config = options_of(r, "config", diags);
    if (!name || !plugin) continue;
    s.name = *name;
    s.plugin = {*plugin, r.mark("plugin")};
    t.stages.push_back(std::move(s));
  }
}

void check_refs(const std::vector<Ref>& refs, const Topology& t, const std::string& what,
                const std::string& key, Diagnostics& diags) {
  std::vector<std::string> defined;
  for (const auto& s : t.stages) defined.push_back(s.name);
  std::set<std::string> seen;
  for (const auto& ref : refs) {
    if (t.find_stage(ref.name) == nullptr) {
      diags.add(ref.mark, what + ": unknown stage '" + ref.name + "' in " + key + " (defined: " +
                              (defined.empty() ? std::string("none") : join(defined, ", ")) + ")");
    } else if (!seen.insert(ref.name).second) {
      diags.add(ref.mark, what + ": stage '" + ref.name + "' appears twice in " + key);
    }
  }
}

void parse_listeners(const YAML::Node& n, const std::filesystem::path& file, Topology& t,
                     Diagnostics& diags) {
  if (!n.IsDefined() || n.IsNull()) {
    diags.add({file.string(), 0, 0}, "no listeners: the topology needs at least one");
    return;
  }
  if (!n.IsSequence()) {
    diags.add(mark_of(file.string(), n), "listeners: expected a list of listeners");
    return;
  }
  std::set<std::string> names;
  for (const auto& item : n) {
    const std::string what = item_name(item, "listener", t.listeners.size() + 1);
    MapReader r(item, file.string(), what, kListenerKeys, diags, false);
    if (!r.ok()) continue;
    ListenerSpec l;
    l.mark = r.mark();
    bool good = true;
    auto name = unique_name(r, "listener", names);
    auto adapter = r.string("adapter", true);
    if (r.has("transport")) {
      auto tr = r.one_of("transport", kTransports, "transport");
      good = good && tr.has_value();
      if (tr) l.transport = *tr;
    }
    const bool tls = l.transport == "tls" || l.transport == "wss";
    const bool websocket = l.transport == "ws" || l.transport == "wss";
    const bool datagrams = l.transport == "udp" || l.transport == "dtls";
    if (r.has("tls") && !tls && l.transport != "dtls") {
      r.error("tls", "'tls' settings need 'transport: tls', 'wss' or 'dtls'");
      good = false;
    }
    if (l.transport == "dtls" && r.has("tls")) {
      // Without a certificate, DTLS serves the pre-shared keys of the auth stages alone.
      good = parse_tls(r.node("tls"), file, what, l.tls, diags, false) && good;
    }
    if (r.has("udp") && !datagrams) {
      r.error("udp", "'udp' settings need 'transport: udp' or 'transport: dtls'");
      good = false;
    } else if (r.has("udp")) {
      good = parse_udp(r.node("udp"), file, what, l.udp, diags) && good;
    }
    if (tls) {
      if (!r.has("tls")) {
        r.error("transport", "transport " + l.transport + " needs 'tls: {cert_file, key_file}'");
        good = false;
      } else {
        good = parse_tls(r.node("tls"), file, what, l.tls, diags) && good;
      }
    }
    if (r.has("websocket") && !websocket) {
      r.error("websocket", "'websocket' settings need 'transport: ws' or 'transport: wss'");
      good = false;
    } else if (r.has("websocket")) {
      good = parse_websocket(r.node("websocket"), file, what, l.websocket, diags) && good;
    }
    auto bind = r.string("bind", true);
    if (bind) {
      auto ep = parse_endpoint(*bind);
      if (!ep) {
        r.error("bind", "bind '" + *bind + "' is not host:port with a port from 0 to 65535");
        good = false;
      } else {
        l.bind = *ep;
      }
    }
    if (auto mc = r.integer("max_connections", 1, 10'000'000))
      l.max_connections = static_cast<std::uint64_t>(*mc);
    if (auto v = r.integer("max_connections_per_address", 0, 10'000'000))
      l.max_connections_per_address = static_cast<std::uint64_t>(*v);
    if (auto v = r.integer("max_connection_rate", 0, 10'000'000))
      l.max_connection_rate = static_cast<std::uint64_t>(*v);
    if (auto v = r.integer("max_pending_handshakes", 0, 10'000'000))
      l.max_pending_handshakes = static_cast<std::uint64_t>(*v);
    if (auto v = r.integer("device_message_rate", 0, 10'000'000))
      l.device_message_rate = static_cast<std::uint64_t>(*v);
    if (auto v = r.size("device_byte_rate", 0, std::uint64_t{1} << 40)) l.device_byte_rate = *v;
    if (auto p = r.one_of("proxy_protocol", kProxyProtocols, "proxy_protocol")) {
      l.proxy_v2 = *p == "v2";
      if (l.proxy_v2 && (l.transport == "udp" || l.transport == "dtls")) {
        r.error("proxy_protocol", "proxy_protocol is for tcp, tls, ws and wss listeners");
        good = false;
      }
    }
    auto auth = r.names("auth");
    auto pipeline = r.names("pipeline");
    l.options = options_of(r, "options", diags);
    if (!name || !adapter || !bind || !auth || !pipeline || !good) continue;
    l.name = *name;
    l.adapter = {*adapter, r.mark("adapter")};
    l.auth = std::move(*auth);
    l.pipeline = std::move(*pipeline);
    check_refs(l.auth, t, what, "auth", diags);
    check_refs(l.pipeline, t, what, "pipeline", diags);
    for (const auto& other : t.listeners) {
      if (other.bind == l.bind && l.bind.port != 0) {
        r.error("bind",
                "bind " + l.bind.str() + " is already used by listener '" + other.name + "'");
      }
    }
    t.listeners.push_back(std::move(l));
  }
  if (t.listeners.empty() && diags.empty()) {
    diags.add(mark_of(file.string(), n), "no listeners: the topology needs at least one");
  }
}

}  // namespace

std::string PluginOptions::fingerprint() const {
  if (!node.IsDefined() || node.IsNull()) return {};
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

std::string WebSocketSpec::str() const {
  return path + "|" + join(subprotocols, ",") + "|" + join(origins, ",") + "|" +
         std::to_string(max_upgrade_size) + "|" + std::to_string(upgrade_timeout.count()) + "|" +
         std::to_string(max_message);
}

std::string UdpSpec::str() const {
  return std::to_string(idle_timeout.count()) + "|" + std::to_string(max_datagram) + "|" +
         std::to_string(queue) + "|" + std::to_string(handshake_timeout.count());
}

std::string Endpoint::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;  // a bare IPv6 address needs brackets
  }
  if (host.empty()) host = "0.0.0.0";
  auto port = parse_int(std::string_view(text).substr(colon + 1));
  if (!port || *port < 0 || *port > 65535) return std::nullopt;
  return Endpoint{host, static_cast<std::uint16_t>(*port)};
}

const StageSpec* Topology::find_stage(const std::string& name) const {
  for (const auto& s : stages) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::optional<Topology> parse_topology(const std::filesystem::path& file, Diagnostics& diags,
                                       bool keep_partial) {
  const std::string fname = file.string();
  std::ifstream in(file);
  if (!in) {
    diags.add({fname, 0, 0}, "cannot read the topology file: " + std::string(std::strerror(errno)));
    return std::nullopt;
  }
  YAML::Node root;
  try {
    root = YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    diags.add({fname, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  Topology t;
  t.file = std::filesystem::absolute(file);
  if (root.IsNull()) {
    diags.add({fname, 0, 0}, "the topology file is empty");
    return std::nullopt;
  }
  MapReader top(root, fname, "topology", kTopKeys, diags);
  if (!top.ok()) return std::nullopt;
  parse_gateway(top.node("gateway"), file, t, diags);
  parse_bridge(top.node("bridge"), file, t, diags);
  parse_stages(top.node("stages"), file, t, diags);
  parse_listeners(top.node("listeners"), file, t, diags);
  if (!diags.empty() && !keep_partial) return std::nullopt;
  return t;
}

}  // namespace iotgw::config
