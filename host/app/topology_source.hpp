// Reads the topology the command line names, with the command line's overrides applied.
#pragma once

#include <optional>

#include "app/options.hpp"
#include "config/model.hpp"

namespace iotgw::app {

// keep_partial: as parse_topology's.
std::optional<config::Topology> load_topology(const Options& options, config::Diagnostics& diags,
                                              bool keep_partial = false);

// The plugins directory: --plugins-dir, else the topology's gateway.plugins_dir.
std::optional<std::filesystem::path> plugins_dir(const Options& options,
                                                 config::Diagnostics& diags);

}  // namespace iotgw::app
