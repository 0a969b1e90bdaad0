// The plugins found in the plugins folders, by name.
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
  // A folder to load from; a missing one is an error only when `required`.
  struct Folder {
    std::filesystem::path path;
    bool required = true;
  };
  // Loads every regular file ending in .so in each folder (not recursive), in order. A name
  // already loaded from an earlier folder is skipped there (a drop-in folder overrides the
  // shipped plugins); a name twice in one folder, and each file that fails, becomes a LoadError
  // (its path is the file's; a folder's own errors have the folder as their path).
  static Catalog scan(const std::vector<Folder>& folders, const PrivateCopies& copies,
                      std::vector<LoadError>& errors);
  static Catalog scan(const std::filesystem::path& dir, const PrivateCopies& copies,
                      std::vector<LoadError>& errors) {
    return scan(std::vector<Folder>{{dir, true}}, copies, errors);
  }

  std::shared_ptr<Plugin> find(std::string_view name) const;
  const std::vector<std::shared_ptr<Plugin>>& all() const { return plugins_; }
  // Why a file that would have given plugin `name` did not load: the name twice, or a file named
  // iotgw-NAME.so (or NAME.so) that failed. nullptr when none did.
  const LoadError* broken(std::string_view name) const;

 private:
  void scan_folder(const Folder& folder, const PrivateCopies& copies,
                   std::vector<LoadError>& errors);

  std::vector<std::shared_ptr<Plugin>> plugins_;  // sorted by name
  std::vector<std::pair<std::string, LoadError>> broken_;
};

}  // namespace iotgw::plugins
