#include "app/topology_source.hpp"

#include "config/install_layout.hpp"

namespace iotgw::app {

namespace {

config::PluginDir option_dir(const Options& options) {
  return {std::filesystem::absolute(options.plugins_dir).lexically_normal(),
          {"--plugins-dir", 0, 0},
          true};
}

}  // namespace

std::optional<config::Topology> load_topology(const Options& options, config::Diagnostics& diags,
                                              bool keep_partial) {
  auto topology = config::parse_topology(options.config_file, diags, keep_partial);
  if (topology && !options.plugins_dir.empty())
    topology->gateway.plugin_dirs = {option_dir(options)};
  return topology;
}

std::optional<std::vector<config::PluginDir>> plugin_dirs(const Options& options,
                                                          config::Diagnostics& diags) {
  if (!options.plugins_dir.empty()) return std::vector{option_dir(options)};
  if (options.config_file.empty()) {
    return std::vector<config::PluginDir>{{config::installed_plugins_dir(), {}, true}};
  }
  auto topology = load_topology(options, diags);
  if (!topology) return std::nullopt;
  return topology->gateway.plugin_dirs;
}

}  // namespace iotgw::app
