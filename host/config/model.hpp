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
  std::string fingerprint() const;  // canonical text, to tell whether it changed on reload
};

struct GatewaySpec {
  std::filesystem::path plugins_dir;  // absolute, resolved against the config file's folder
  Mark plugins_dir_mark;
  unsigned threads = 0;  // 0: one event loop per core
  std::chrono::milliseconds drain_timeout{10'000};
  std::optional<LogLevel> log_level;
};

struct BridgeSpec {
  std::string flavour = "loopback";
  bool echo = true;  // loopback: hand every accepted message back to its device
  // iothub: where the hub is and how device tokens are made.
  std::string host = "127.0.0.1";
  std::string port = "5672";
  std::string hostname;    // the hub's own name, for token audiences
  std::string policy;      // mint device tokens from this policy ...
  std::string policy_key;  // ... and its key (base64); else devices' own tokens pass through
  std::chrono::milliseconds token_ttl{3'600'000};
  Mark mark;
  bool operator==(const BridgeSpec& o) const {
    return flavour == o.flavour && echo == o.echo && host == o.host && port == o.port &&
           hostname == o.hostname && policy == o.policy && policy_key == o.policy_key &&
           token_ttl == o.token_ttl;
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

struct ListenerSpec {
  std::string name;
  Ref adapter;
  std::string transport = "tcp";
  Endpoint bind;
  std::uint64_t max_connections = 100'000;
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
// found goes into diags either way.
std::optional<Topology> parse_topology(const std::filesystem::path& file, Diagnostics& diags);

// Parses "host:port", "[v6]:port" or ":port" (all addresses).
std::optional<Endpoint> parse_endpoint(const std::string& text);

}  // namespace iotgw::config
