#include "plugins/catalog.hpp"

#include <algorithm>
#include <system_error>

namespace iotgw::plugins {

namespace fs = std::filesystem;

namespace {

// The name a plugin file that did not load would most likely have given: iotgw_add_plugin names
// its output iotgw-NAME.so.
std::string name_from_file(const fs::path& file) {
  std::string stem = file.stem().string();
  const std::string prefix = "iotgw-";
  return stem.rfind(prefix, 0) == 0 ? stem.substr(prefix.size()) : stem;
}

}  // namespace

Catalog Catalog::scan(const std::vector<Folder>& folders, const PrivateCopies& copies,
                      std::vector<LoadError>& errors) {
  Catalog c;
  for (const auto& folder : folders) c.scan_folder(folder, copies, errors);
  std::sort(c.plugins_.begin(), c.plugins_.end(),
            [](const auto& a, const auto& b) { return a->name() < b->name(); });
  return c;
}

void Catalog::scan_folder(const Folder& folder, const PrivateCopies& copies,
                          std::vector<LoadError>& errors) {
  const auto& dir = folder.path;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (folder.required) {
      errors.push_back({dir, "plugins directory does not exist or is not a directory"});
    }
    return;
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so" && entry.is_regular_file()) files.push_back(entry.path());
  }
  if (ec) errors.push_back({dir, "cannot list: " + ec.message()});
  std::sort(files.begin(), files.end());  // the same order on every machine and every reload
  // Names earlier folders gave: a later folder's plugin of the same name is overridden.
  const auto earlier = plugins_.size();
  auto overridden = [&](std::string_view name) {
    return std::any_of(plugins_.begin(), plugins_.begin() + static_cast<std::ptrdiff_t>(earlier),
                       [&](const auto& p) { return p->name() == name; });
  };
  for (const auto& file : files) {
    if (overridden(name_from_file(file))) continue;  // not even loaded
    auto loaded = load_plugin(file, copies);
    if (auto* err = std::get_if<LoadError>(&loaded)) {
      broken_.emplace_back(name_from_file(file), *err);
      errors.push_back(std::move(*err));
      continue;
    }
    auto plugin = std::get<std::shared_ptr<Plugin>>(std::move(loaded));
    if (overridden(plugin->name())) continue;  // a file named otherwise, giving such a name
    if (auto twin = find(plugin->name())) {
      LoadError err{file, "duplicate plugin name '" + std::string(plugin->name()) + "' (also in " +
                              twin->path().string() + ")"};
      broken_.emplace_back(plugin->name(), err);
      errors.push_back(std::move(err));
      continue;
    }
    plugins_.push_back(std::move(plugin));
  }
}

const LoadError* Catalog::broken(std::string_view name) const {
  for (const auto& [n, error] : broken_) {
    if (n == name) return &error;
  }
  return nullptr;
}

std::shared_ptr<Plugin> Catalog::find(std::string_view name) const {
  for (const auto& p : plugins_) {
    if (p->name() == name) return p;
  }
  return nullptr;
}

}  // namespace iotgw::plugins
