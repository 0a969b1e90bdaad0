// Everything a topology model asks for, loaded and created but not yet serving: plugins from the
// plugins directory, stage instances, adapter instances and pipelines. Building a plan is what
// `--check` runs and what a reload does before it touches anything that serves.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/model.hpp"
#include "iotgw/common/metrics.hpp"
#include "plugins/catalog.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/plugin_instance.hpp"
#include "transport/dtls_context.hpp"
#include "transport/websocket_upgrade.hpp"

namespace iotgw::topology {

struct ListenerPlan {
  config::ListenerSpec spec;
  std::shared_ptr<runtime::AdapterInstance> adapter;
  std::shared_ptr<const runtime::Pipeline> pipeline;
  std::shared_ptr<boost::asio::ssl::context> tls;                 // transport tls or wss
  std::shared_ptr<const transport::WebSocketSettings> websocket;  // transport ws or wss
  std::shared_ptr<const transport::DtlsContext> dtls;             // transport dtls
  // Equal shapes mean the listener can keep its sockets and connections across a reload: same
  // adapter code and options, same transport and address. Stages may differ.
  std::string shape;
};

struct Plan {
  config::Topology model;
  plugins::Catalog catalog;
  std::vector<std::shared_ptr<runtime::StageInstance>> stages;
  std::vector<ListenerPlan> listeners;
};

// The folders gateway.plugins_dir names (or its defaults), as the catalog scans them.
std::vector<plugins::Catalog::Folder> catalog_folders(const std::vector<config::PluginDir>& dirs);

std::optional<Plan> build_plan(const config::Topology& model, const plugins::PrivateCopies& copies,
                               Logger& log, config::Diagnostics& diags,
                               metrics::Registry* registry = nullptr);

}  // namespace iotgw::topology
