// The plugins found in one plugins directory, by name.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "plugins/plugin.hpp"

namespace iotgw::plugins {

class Catalog {
 public:
  // Loads every regular file ending in .so in dir (not recursive). Each file that fails, and each
  // name found twice, becomes a LoadError; the rest load.
  static Catalog scan(const std::filesystem::path& dir, const PrivateCopies& copies,
                      std::vector<LoadError>& errors);

  std::shared_ptr<Plugin> find(std::string_view name) const;
  const std::vector<std::shared_ptr<Plugin>>& all() const { return plugins_; }

 private:
  std::vector<std::shared_ptr<Plugin>> plugins_;  // sorted by name
};

}  // namespace iotgw::plugins
