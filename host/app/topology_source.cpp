#include "app/topology_source.hpp"

namespace iotgw::app {

std::optional<config::Topology> load_topology(const Options& options, config::Diagnostics& diags,
                                              bool keep_partial) {
  auto topology = config::parse_topology(options.config_file, diags, keep_partial);
  if (topology && !options.plugins_dir.empty()) {
    topology->gateway.plugins_dir =
        std::filesystem::absolute(options.plugins_dir).lexically_normal();
    topology->gateway.plugins_dir_mark = {"--plugins-dir", 0, 0};
  }
  return topology;
}

std::optional<std::filesystem::path> plugins_dir(const Options& options,
                                                 config::Diagnostics& diags) {
  if (!options.plugins_dir.empty()) return std::filesystem::path(options.plugins_dir);
  auto topology = load_topology(options, diags);
  if (!topology) return std::nullopt;
  return topology->gateway.plugins_dir;
}

}  // namespace iotgw::app
