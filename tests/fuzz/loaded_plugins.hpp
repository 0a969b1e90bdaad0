// What the harnesses that run real plugins share: the plugins folder scanned once, and plugin
// instances made from a YAML config as a topology would make them. Any failure here is the
// harness's, not a finding: it aborts with the reason.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "iotgw/common/log.hpp"
#include "plugins/catalog.hpp"
#include "plugins/plugin_config.hpp"
#include "runtime/plugin_instance.hpp"

namespace iotgw::fuzz {

[[noreturn]] inline void abort_with(const std::string& why) {
  std::fprintf(stderr, "fuzz harness: %s\n", why.c_str());
  std::abort();
}

struct LoadedPlugins {
  Logger log{LogLevel::error};
  plugins::PrivateCopies copies;
  plugins::Catalog catalog;

  explicit LoadedPlugins(const std::string& folder) : folder_(folder) {
    std::vector<plugins::LoadError> errors;
    catalog = plugins::Catalog::scan(folder, copies, errors);
    if (!errors.empty()) abort_with(errors.front().str());
  }

  // runtime::AdapterInstance or runtime::StageInstance of `plugin_name`, configured by `yaml`.
  template <class Instance>
  std::shared_ptr<Instance> make(const std::string& plugin_name, const std::string& yaml) {
    auto plugin = catalog.find(plugin_name);
    if (!plugin) abort_with("no plugin " + plugin_name + " in " + folder_);
    config::Diagnostics diags;
    auto cfg = plugins::PluginConfig::resolve(plugin->keys(), {YAML::Load(yaml), {}}, "fuzz",
                                              "fuzz", diags);
    if (!cfg) abort_with(diags.str());
    std::string error;
    std::shared_ptr<Instance> inst;
    if constexpr (std::is_same_v<Instance, runtime::AdapterInstance>) {
      inst = Instance::create(plugin, *plugin->descriptor().adapter, *cfg, "fuzz", log, error);
    } else {
      inst = Instance::create(plugin, *plugin->descriptor().stage, *cfg, "fuzz", log, error);
    }
    if (!inst) abort_with(error);
    return inst;
  }

 private:
  std::string folder_;
};

}  // namespace iotgw::fuzz
