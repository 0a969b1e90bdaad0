#include "config/schema.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace iotgw::config::schema {

namespace {

// The order of each list is the order error messages name the valid keys in.

constexpr std::array kTop = {
    Key{.name = "gateway",
        .type = "map",
        .doc = "the process: where plugins are, event loops, shutdown, logging"},
    Key{.name = "bridge",
        .type = "map",
        .doc = "where accepted messages go: loopback, Azure IoT Hub (or iotgw-hub), or an "
               "AMQP 1.0 broker"},
    Key{.name = "stages",
        .type = "list of stages",
        .doc = "named instances of stage plugins (authenticators and transforms) with their "
               "config"},
    Key{.name = "listeners",
        .type = "list of listeners",
        .doc = "what the gateway serves: an adapter on a transport and address, with its auth "
               "and pipeline; at least one",
        .required = true},
};

constexpr std::array kGateway = {
    Key{.name = "plugins_dir",
        .type = "path or list of paths",
        .default_value = "[plugins, <the installed plugins>]",
        .doc = "the folders plugins load from, relative to the topology file's folder; a name "
               "in several comes from the first. Left out: plugins/ beside the topology when "
               "it exists, then the plugins installed with iotgw (<libdir>/iotgw/plugins). "
               "--plugins-dir overrides"},
    Key{.name = "threads",
        .type = "int",
        .default_value = "0",
        .doc = "event loops; 0: one per core"},
    Key{.name = "drain_timeout",
        .type = "duration",
        .default_value = "10s",
        .doc = "how long removed listeners and shutdown wait for connections to finish what "
               "they have in flight"},
    Key{.name = "drain_rate",
        .type = "int",
        .default_value = "1000",
        .doc = "connections asked to leave per second when draining (POST /drain, SIGTERM), so "
               "a load balancer moves devices without a reconnect storm; 0: all at once"},
    Key{.name = "max_buffered_bytes",
        .type = "size",
        .default_value = "512MB",
        .doc = "what all device connections may hold in their buffers (input read and not yet "
               "used, output not yet written); past it every connection holding part of a "
               "message stops reading until the total falls under 7/8 of it, so a flood of "
               "large or half-sent messages cannot take the process's memory, while devices "
               "sending whole messages are served. 0: no bound"},
    Key{.name = "log_level",
        .type = "string",
        .default_value = "info",
        .doc = "the least severe messages logged; --log-level overrides",
        .choices = "trace, debug, info, warn, error"},
    Key{.name = "log_format",
        .type = "string",
        .default_value = "text",
        .doc = "text lines, or json: one object a line (time, level, component, message, "
               "fields); --log-format overrides",
        .choices = "text, json"},
    Key{.name = "admin",
        .type = "map",
        .doc = "the operators' HTTP endpoint: /metrics, /healthz, /readyz, /status, POST "
               "/reload, POST /drain; off when absent"},
    Key{.name = "watch",
        .type = "bool",
        .default_value = "false",
        .doc = "reload when the topology file or any file it names changes (Kubernetes' "
               "..data swaps included)"},
};

constexpr std::array kAdmin = {
    Key{.name = "bind",
        .type = "host:port",
        .doc = "where the admin endpoint listens (port 0 picks one, logged)",
        .required = true},
    Key{.name = "token_file",
        .type = "path",
        .doc = "a file holding the bearer token POST requests must present; relative to the "
               "topology file's folder (absent: none asked)"},
};

constexpr std::array kBridge = {
    Key{.name = "flavour",
        .type = "string",
        .default_value = "loopback",
        .doc = "loopback accepts everything itself; iothub speaks to Azure IoT Hub (or "
               "iotgw-hub); amqp to any AMQP 1.0 broker",
        .choices = "loopback, iothub, amqp"},
    Key{.name = "echo",
        .type = "bool",
        .default_value = "true",
        .doc = "loopback: hand every accepted message back to its device"},
    Key{.name = "url",
        .type = "string",
        .default_value = "amqp://127.0.0.1:5672",
        .doc = "iothub and amqp: amqp://host[:port] or amqps://host[:port] (port 5671 by "
               "default)"},
    Key{.name = "ca_file",
        .type = "string",
        .doc = "amqps: trust the CAs in this PEM file instead of the system's"},
    Key{.name = "hostname",
        .type = "string",
        .doc = "the hub's own name (myhub.azure-devices.net): token audiences, TLS peer name, "
               "AMQP hostname; flavour iothub needs it"},
    Key{.name = "sasl",
        .type = "string",
        .default_value = "anonymous",
        .doc = "how the gateway logs in; plain needs user and password (iothub with a policy "
               "makes them itself)",
        .choices = "anonymous, plain"},
    Key{.name = "user", .type = "string", .doc = "sasl plain: the user name"},
    Key{.name = "password", .type = "string", .doc = "sasl plain: the password"},
    Key{.name = "password_file",
        .type = "path",
        .doc = "sasl plain: a file holding the password (not readable by others), instead of "
               "password"},
    Key{.name = "policy",
        .type = "string",
        .doc = "iothub: mint each device's token from this shared access policy (device "
               "right); without it devices' own tokens pass through"},
    Key{.name = "policy_key",
        .type = "string",
        .doc = "iothub: the policy's key (base64); goes with policy"},
    Key{.name = "policy_key_file",
        .type = "path",
        .doc = "iothub: a file holding the policy's key (not readable by others), instead of "
               "policy_key: the topology in a ConfigMap, the key in a Secret"},
    Key{.name = "token_ttl",
        .type = "duration",
        .default_value = "1h",
        .doc = "the lifetime of minted tokens, renewed at 80% of it"},
    Key{.name = "telemetry_address",
        .type = "string",
        .default_value = "/devices/{deviceId}/messages/events",
        .doc = "where device messages go, {deviceId} replaced; amqp: a message's own `to` "
               "wins"},
    Key{.name = "c2d_address",
        .type = "string",
        .default_value = "/devices/{deviceId}/messages/devicebound",
        .doc = "where messages for a device come from, {deviceId} replaced; empty: no C2D"},
    Key{.name = "idle_close",
        .type = "duration",
        .default_value = "60s",
        .doc = "an extra pool connection left with no devices closes after this"},
    Key{.name = "attach_timeout",
        .type = "duration",
        .default_value = "10s",
        .doc = "a device's login waits this long for the hub, then is told unavailable"},
    Key{.name = "idle_timeout",
        .type = "duration",
        .default_value = "30s",
        .doc = "AMQP's idle timeout: the hub is asked to send at least every half of it, and a "
               "connection it sent nothing on for this long is given up and made again (a hub "
               "that stopped answering without closing, a path that drops packets)"},
    Key{.name = "durable",
        .type = "bool",
        .default_value = "true",
        .doc = "QoS 1 upstream as durable messages (amqp: and durable link termini), so the "
               "hub's accepted means stored"},
};

constexpr std::array kStage = {
    Key{.name = "name",
        .type = "string",
        .doc = "what listeners' auth and pipeline call it: letters, digits, '_', '-', '.'; at "
               "most 64",
        .required = true},
    Key{.name = "plugin",
        .type = "string",
        .doc = "the stage plugin it is an instance of (iotgw --list-plugins)",
        .required = true},
    Key{.name = "config",
        .type = "map",
        .doc = "the plugin's own keys (iotgw --describe PLUGIN, and below)"},
};

constexpr std::array kListener = {
    Key{.name = "name",
        .type = "string",
        .doc = "unique among listeners: letters, digits, '_', '-', '.'; at most 64",
        .required = true},
    Key{.name = "adapter",
        .type = "string",
        .doc = "the adapter plugin that speaks the devices' protocol",
        .required = true},
    Key{.name = "transport",
        .type = "string",
        .default_value = "tcp",
        .doc = "what carries the adapter's bytes; tls and wss need tls, dtls may have it",
        .choices = "tcp, tls, ws, wss, udp, dtls"},
    Key{.name = "bind",
        .type = "string",
        .doc = "host:port, [v6]:port or :port (all addresses); port 0 picks one (logged)",
        .required = true},
    Key{.name = "tls",
        .type = "map",
        .doc = "transport tls, wss and dtls: certificates and client certificates"},
    Key{.name = "auth",
        .type = "list of stage names",
        .default_value = "[]",
        .doc = "authenticators, asked in order at connect"},
    Key{.name = "pipeline",
        .type = "list of stage names",
        .default_value = "[]",
        .doc = "transforms: in order upstream, in reverse downstream"},
    Key{.name = "options",
        .type = "map",
        .doc = "the adapter's own keys (iotgw --describe ADAPTER, and below)"},
    Key{.name = "max_connections",
        .type = "int",
        .default_value = "100000",
        .doc = "open connections (udp and dtls: sessions) at most; past it new ones are refused"},
    Key{.name = "max_connections_per_address",
        .type = "int",
        .default_value = "0",
        .doc = "connections one source address (the PROXY header's, behind a balancer) may hold; "
               "past it its new ones are refused. 0: no bound (devices behind one NAT share an "
               "address: set it on listeners facing the internet)"},
    Key{.name = "max_connection_rate",
        .type = "int",
        .default_value = "0",
        .doc = "new connections per second, in bursts of one second's worth; past it they are "
               "closed at once (devices back off and try again). 0: no bound"},
    Key{.name = "max_pending_handshakes",
        .type = "int",
        .default_value = "0",
        .doc = "connections whose device has not logged in yet (TLS, DTLS or WebSocket handshake, "
               "PROXY header, MQTT CONNECT, the hub's answer) at once; past it new ones are "
               "closed. Each is bounded in time as well, by its handshake's or connect_timeout. "
               "0: no bound (a bound below a reconnect storm's size slows the storm: 100,000 "
               "devices over 6 processes took 35 s with 10,000, 18-20 s without)"},
    Key{.name = "device_message_rate",
        .type = "int",
        .default_value = "0",
        .doc = "messages each device may send upstream per second, in bursts of one second's "
               "worth (IoT Hub throttles per device too). Over it, a device is slowed: its "
               "connection reads nothing until the rate allows (MQTT 3.1.1 and CoAP devices see "
               "their acknowledgements come later), except MQTT 5 devices, which hear Quota "
               "exceeded (0x97) for what they send while over. 0: no bound"},
    Key{.name = "device_byte_rate",
        .type = "size",
        .default_value = "0",
        .doc = "payload bytes each device may send upstream per second, as device_message_rate "
               "(\"64KB\": 64 KiB a second, in bursts of as much). 0: no bound"},
    Key{.name = "proxy_protocol",
        .type = "string",
        .default_value = "off",
        .doc = "v2: each connection starts with a PROXY protocol v2 header from a load "
               "balancer (HAProxy's send-proxy-v2, AWS NLB, Envoy), and the device's address it "
               "names is the one logs and auth stages see. Transports tcp, tls, ws and wss",
        .choices = "off, v2"},
    Key{.name = "websocket", .type = "map", .doc = "transport ws and wss: the HTTP upgrade"},
    Key{.name = "udp", .type = "map", .doc = "transport udp and dtls: the datagram sessions"},
};

constexpr std::array kTls = {
    Key{.name = "cert_file",
        .type = "path",
        .doc = "the certificate (PEM, may hold the chain), relative to the topology file; dtls "
               "without it serves pre-shared keys alone"},
    Key{.name = "key_file", .type = "path", .doc = "the certificate's private key (PEM)"},
    Key{.name = "ca_file", .type = "path", .doc = "verifies client certificates"},
    Key{.name = "client_cert",
        .type = "string",
        .default_value = "none",
        .doc = "whether devices present certificates; optional and required need ca_file",
        .choices = "none, optional, required"},
    Key{.name = "min_version",
        .type = "string",
        .default_value = "1.2",
        .doc = "the oldest (D)TLS version served",
        .choices = "1.2, 1.3"},
};

constexpr std::array kUdp = {
    Key{.name = "idle_timeout",
        .type = "duration",
        .default_value = "5m",
        .doc = "a session nothing came from for this long ends (its adapter is closed)"},
    Key{.name = "max_datagram",
        .type = "size",
        .default_value = "4KB",
        .doc = "larger datagrams are dropped (64 to 65507)"},
    Key{.name = "queue",
        .type = "int",
        .default_value = "64",
        .doc = "datagrams a busy session holds; later ones are dropped"},
    Key{.name = "handshake_timeout",
        .type = "duration",
        .default_value = "10s",
        .doc = "dtls: the handshake must finish within it"},
};

constexpr std::array kWebSocket = {
    Key{.name = "path",
        .type = "string",
        .default_value = "/$iothub/websocket",
        .doc = "the request's path before '?' must be this, else 404"},
    Key{.name = "subprotocols",
        .type = "list of strings",
        .default_value = "[mqtt]",
        .doc = "the client must offer one in Sec-WebSocket-Protocol, else 400; the chosen one "
               "is echoed"},
    Key{.name = "origins",
        .type = "list of strings",
        .default_value = "[]",
        .doc = "when set, a request whose Origin is not listed gets 403; empty: any"},
    Key{.name = "max_upgrade_size",
        .type = "size",
        .default_value = "8KB",
        .doc = "a larger upgrade request gets 431"},
    Key{.name = "upgrade_timeout",
        .type = "duration",
        .default_value = "10s",
        .doc = "the TLS handshake and the upgrade must finish within it, else the socket is "
               "closed"},
    Key{.name = "max_message",
        .type = "size",
        .default_value = "1MiB",
        .doc = "the largest WebSocket message accepted (a larger one closes with 1009)"},
};

constexpr std::array kSections = {
    Section{"topology", "the top level of the topology file", kTop},
    Section{"gateway", "the gateway process", kGateway},
    Section{"gateway.admin", "the admin endpoint", kAdmin},
    Section{"bridge", "the upstream side: where every listener's accepted messages go", kBridge},
    Section{"stages[]", "one stage: a named instance of a stage plugin", kStage},
    Section{"listeners[]", "one listener: an adapter served on one address", kListener},
    Section{"listeners[].tls", "a listener's TLS (transport tls, wss) or DTLS (transport dtls)",
            kTls},
    Section{"listeners[].websocket", "a listener's WebSocket upgrade (transport ws, wss)",
            kWebSocket},
    Section{"listeners[].udp",
            "a listener's datagram sessions, one per peer address (transport udp, dtls)", kUdp},
};

const Section& section(std::string_view name) {
  const auto* s = std::find_if(kSections.begin(), kSections.end(),
                               [&](const Section& each) { return each.name == name; });
  if (s == kSections.end()) {
    throw std::logic_error("no topology section '" + std::string(name) + "' in the schema");
  }
  return *s;
}

}  // namespace

std::span<const Section> sections() {
  return kSections;
}

std::vector<std::string> key_names(std::string_view name) {
  std::vector<std::string> out;
  for (const auto& k : section(name).keys) out.emplace_back(k.name);
  return out;
}

std::vector<std::string> choices(std::string_view name, std::string_view key) {
  const auto& keys = section(name).keys;
  const auto k = std::find_if(keys.begin(), keys.end(), [&](const Key& each) {
    return each.name == key && !each.choices.empty();
  });
  if (k == keys.end()) {
    throw std::logic_error("no choices for '" + std::string(key) + "' in topology section '" +
                           std::string(name) + "'");
  }
  std::vector<std::string> out;
  std::string_view rest = k->choices;
  while (!rest.empty()) {
    const auto comma = rest.find(", ");
    out.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
  }
  return out;
}

}  // namespace iotgw::config::schema
