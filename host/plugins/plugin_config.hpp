// A plugin's YAML options checked against the keys it declares, turned into the canonical
// iotgw_config the ABI hands to create(). Owns every string the C view points at.
#pragma once

#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/diagnostics.hpp"
#include "config/model.hpp"
#include "iotgw/abi.h"

namespace iotgw::plugins {

class PluginConfig {
 public:
  PluginConfig(const PluginConfig&) = delete;
  PluginConfig& operator=(const PluginConfig&) = delete;
  PluginConfig(PluginConfig&&) = delete;
  PluginConfig& operator=(PluginConfig&&) = delete;

  // `what` names the owner in messages ("stage 'shout'"). Returns nullptr after reporting every
  // unknown key, missing required key and ill-typed value.
  static std::unique_ptr<PluginConfig> resolve(std::span<const iotgw_config_key> keys,
                                               const config::PluginOptions& options,
                                               const std::string& instance_name,
                                               const std::string& what, config::Diagnostics& diags);

  const iotgw_config* c_config() const { return &config_; }

 private:
  PluginConfig() = default;

  std::string instance_name_;
  std::deque<std::string> strings_;  // deque: stable addresses as it grows
  std::deque<std::vector<const char*>> lists_;
  std::vector<iotgw_config_value> values_;
  iotgw_config config_{};
};

// The type's name as `--describe` and error messages show it.
std::string_view config_type_name(iotgw_config_type type);

}  // namespace iotgw::plugins
