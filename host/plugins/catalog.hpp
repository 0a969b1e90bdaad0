// The plugins found in one plugins directory, by name.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugins/plugin.hpp"

namespace iotgw::plugins {

class Catalog {
 public:
  // Loads every regular file ending in .so in dir (not recursive). Each file that fails, and each
  // name found twice, becomes a LoadError (its path is the file's; the directory's own errors
  // have dir as their path); the rest load.
  static Catalog scan(const std::filesystem::path& dir, const PrivateCopies& copies,
                      std::vector<LoadError>& errors);

  std::shared_ptr<Plugin> find(std::string_view name) const;
  const std::vector<std::shared_ptr<Plugin>>& all() const { return plugins_; }
  // Why a file that would have given plugin `name` did not load: the name twice, or a file named
  // iotgw-NAME.so (or NAME.so) that failed. nullptr when none did.
  const LoadError* broken(std::string_view name) const;

 private:
  std::vector<std::shared_ptr<Plugin>> plugins_;  // sorted by name
  std::vector<std::pair<std::string, LoadError>> broken_;
};

}  // namespace iotgw::plugins
