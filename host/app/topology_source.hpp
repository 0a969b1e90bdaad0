// Reads the topology the command line names, with the command line's overrides applied.
#pragma once

#include <optional>

#include "app/options.hpp"
#include "config/model.hpp"

namespace iotgw::app {

// keep_partial: as parse_topology's.
std::optional<config::Topology> load_topology(const Options& options, config::Diagnostics& diags,
                                              bool keep_partial = false);

// The plugins folders: --plugins-dir, else the topology's gateway.plugins_dir (or its
// defaults), else, with no topology named, the plugins installed with this binary.
std::optional<std::vector<config::PluginDir>> plugin_dirs(const Options& options,
                                                          config::Diagnostics& diags);

}  // namespace iotgw::app
