// The validated, immutable topology model: what the YAML says, nothing loaded or opened yet.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/diagnostics.hpp"
#include "config/map_reader.hpp"
#include "iotgw/common/log.hpp"

namespace iotgw::config {

// A plugin's own configuration: validated later against the keys the plugin declares.
struct PluginOptions {
  YAML::Node node;                  // a map, or null when absent
  Mark mark;                        // where the map is (or its owner, when absent)
  bool reported = false;            // it was no map, and said so: nothing more to check in it
  std::string fingerprint() const;  // canonical text, to tell whether it changed on reload
};

// The operators' HTTP endpoint (metrics, health, reload, drain, status); off when absent.
struct AdminSpec {
  std::string bind;                  // host:port
  std::filesystem::path token_file;  // a bearer token for what changes state; empty: none asked
  Mark mark;
  bool operator==(const AdminSpec& o) const { return bind == o.bind && token_file == o.token_file; }
};

// A folder plugins load from. A name found in several folders comes from the first.
struct PluginDir {
  std::filesystem::path path;  // absolute, resolved against the config file's folder
  Mark mark;
  // The default folders are searched only when they exist; a folder written down must exist.
  bool required = true;
  bool operator==(const PluginDir& o) const { return path == o.path && required == o.required; }
};

struct GatewaySpec {
  std::vector<PluginDir> plugin_dirs;  // gateway.plugins_dir, or the defaults (parser.cpp)
  unsigned threads = 0;                // 0: one event loop per core
  std::chrono::milliseconds drain_timeout{10'000};
  // Connections asked to leave per second when the gateway drains (POST /drain, SIGTERM), so a
  // load balancer's other replicas take the devices without a reconnect storm. 0: all at once.
  unsigned drain_rate = 1000;
  // What all device connections may hold in their buffers before those holding part of a
  // message stop reading (transport/buffer_budget.hpp). 0: no bound.
  std::uint64_t max_buffered_bytes = std::uint64_t{512} * 1024 * 1024;
  std::optional<LogLevel> log_level;
  std::optional<LogFormat> log_format;
  std::optional<AdminSpec> admin;
  // Reload when the topology file or a file it names changes (gateway/watch).
  bool watch = false;
};

struct BridgeSpec {
  std::string flavour = "loopback";
  bool echo = true;  // loopback: hand every accepted message back to its device
  // iothub and amqp: where the hub is and how the gateway logs in.
  std::string host = "127.0.0.1";
  std::string port = "5672";
  bool tls = false;      // amqps://
  std::string ca_file;   // amqps: trust these CAs instead of the system's
  std::string hostname;  // the hub's own name: token audiences, TLS peer name, AMQP hostname
  std::string sasl = "anonymous";  // or plain
  std::string user, password;      // plain; iothub with a policy mints them when left out
  std::string policy;              // iothub: mint device tokens from this policy ...
  std::string policy_key;  // ... and its key (base64); else devices' own tokens pass through
  std::chrono::milliseconds token_ttl{3'600'000};
  // Address templates ({deviceId}); amqp: a message's own `to` wins over telemetry_address.
  std::string telemetry_address = "/devices/{deviceId}/messages/events";
  std::string c2d_address = "/devices/{deviceId}/messages/devicebound";
  std::chrono::milliseconds idle_close{60'000};      // an extra pool connection with no devices
  std::chrono::milliseconds attach_timeout{10'000};  // a device's wait for the hub at login
  std::chrono::milliseconds idle_timeout{30'000};    // AMQP's: a silent hub is given up after it
  // QoS 1 upstream as durable messages (and, flavour amqp, durable link termini): the hub's
  // `accepted` then means stored. Off: a broker may keep them in memory only.
  bool durable = true;
  Mark mark;
  bool operator==(const BridgeSpec& o) const {
    return flavour == o.flavour && echo == o.echo && host == o.host && port == o.port &&
           tls == o.tls && ca_file == o.ca_file && hostname == o.hostname && sasl == o.sasl &&
           user == o.user && password == o.password && policy == o.policy &&
           policy_key == o.policy_key && token_ttl == o.token_ttl &&
           telemetry_address == o.telemetry_address && c2d_address == o.c2d_address &&
           idle_close == o.idle_close && attach_timeout == o.attach_timeout &&
           idle_timeout == o.idle_timeout && durable == o.durable;
  }
};

struct StageSpec {
  std::string name;
  Ref plugin;
  PluginOptions config;
  Mark mark;
};

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const;
  bool operator==(const Endpoint&) const = default;
};

// A listener's TLS (transport: tls). Files are read when the topology is planned, so a bad one
// fails --check and a reload, never a running listener.
struct TlsSpec {
  std::string cert_file, key_file;   // PEM; the certificate file may hold the chain
  std::string ca_file;               // verifies client certificates
  std::string client_cert = "none";  // none, optional or required
  std::string min_version = "1.2";   // 1.2 or 1.3
  std::string str() const {
    return cert_file + "|" + key_file + "|" + ca_file + "|" + client_cert + "|" + min_version;
  }
};

// A listener's WebSocket upgrade (transport: ws or wss). The defaults are IoT Hub's MQTT over
// WebSockets: wss://host:443/$iothub/websocket with subprotocol mqtt.
struct WebSocketSpec {
  std::string path = "/$iothub/websocket";  // before '?'; another path is answered 404
  std::vector<std::string> subprotocols{"mqtt"};
  std::vector<std::string> origins;                          // empty: any Origin
  std::uint64_t max_upgrade_size = std::uint64_t{8} * 1024;  // the whole upgrade request
  std::chrono::milliseconds upgrade_timeout{10'000};         // TLS handshake plus upgrade
  std::uint64_t max_message = std::uint64_t{1024} * 1024;    // one WebSocket message
  std::string str() const;
};

// A listener's datagram sessions (transport: udp or dtls): one per peer address.
struct UdpSpec {
  std::chrono::milliseconds idle_timeout{300'000};  // a session nothing came from this long ends
  std::uint64_t max_datagram = std::uint64_t{4} * 1024;  // larger datagrams are dropped
  std::uint64_t queue = 64;  // datagrams a busy session holds before dropping new ones
  std::chrono::milliseconds handshake_timeout{10'000};  // dtls: from the verified hello
  std::string str() const;
};

struct ListenerSpec {
  std::string name;
  Ref adapter;
  std::string transport = "tcp";
  TlsSpec tls;
  WebSocketSpec websocket;
  UdpSpec udp;
  Endpoint bind;
  std::uint64_t max_connections = 100'000;
  // Abuse bounds (runtime/admission.hpp): 0 is no bound.
  std::uint64_t max_connections_per_address = 0;
  std::uint64_t max_connection_rate = 0;  // new connections per second
  std::uint64_t max_pending_handshakes = 0;
  // Each device's upstream messages and payload bytes per second (runtime/device_rate.hpp).
  std::uint64_t device_message_rate = 0;
  std::uint64_t device_byte_rate = 0;
  bool proxy_v2 = false;  // proxy_protocol: v2
  std::vector<Ref> auth;
  std::vector<Ref> pipeline;
  PluginOptions options;
  Mark mark;
};

struct Topology {
  std::filesystem::path file;
  GatewaySpec gateway;
  BridgeSpec bridge;
  std::vector<StageSpec> stages;
  std::vector<ListenerSpec> listeners;

  const StageSpec* find_stage(const std::string& name) const;
};

// Parses and checks one topology file. Returns the model when there was no error; every error
// found goes into diags either way. `keep_partial` (--check) returns the model of what parsed
// despite errors, so that the plugins' checks can run on it too; nullopt then means the file
// could not be read as a YAML mapping.
std::optional<Topology> parse_topology(const std::filesystem::path& file, Diagnostics& diags,
                                       bool keep_partial = false);

// Parses "host:port", "[v6]:port" or ":port" (all addresses).
std::optional<Endpoint> parse_endpoint(const std::string& text);

}  // namespace iotgw::config
