// One loaded plugin library. A shared_ptr<Plugin> keeps the library mapped: every instance made
// from it holds one, so code is never unloaded under a live object.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include "iotgw/abi.h"

namespace iotgw::plugins {

std::string_view kind_name(iotgw_plugin_kind kind);

class Plugin {
 public:
  Plugin(boost::dll::shared_library lib, const iotgw_plugin_descriptor* descriptor,
         std::filesystem::path path, std::string hash);

  const iotgw_plugin_descriptor& descriptor() const { return *descriptor_; }
  std::string_view name() const { return descriptor_->name; }
  iotgw_plugin_kind kind() const { return descriptor_->kind; }
  // The declared keys in this host's layout, whatever element size the plugin was built with.
  std::span<const iotgw_config_key> keys() const { return keys_; }
  const std::filesystem::path& path() const { return path_; }  // as found in the plugins dir
  const std::string& hash() const { return hash_; }            // SHA-256 of the file, hex

 private:
  boost::dll::shared_library lib_;  // first member: destroyed last
  const iotgw_plugin_descriptor* descriptor_;
  std::vector<iotgw_config_key> keys_;
  std::filesystem::path path_;
  std::string hash_;
};

struct LoadError {
  std::filesystem::path path;
  std::string reason;
  std::string str() const { return "plugin " + path.string() + ": " + reason; }
};

// A private folder of content-addressed copies: dlopen caches by path, so loading the copy
// named by the file's hash is what makes a .so replaced in place load its new code.
class PrivateCopies {
 public:
  PrivateCopies();  // makes a fresh folder under the system temp dir
  ~PrivateCopies();
  PrivateCopies(const PrivateCopies&) = delete;
  PrivateCopies& operator=(const PrivateCopies&) = delete;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// Loads and checks one plugin file: a private copy, then the ABI, then the descriptor.
std::variant<std::shared_ptr<Plugin>, LoadError> load_plugin(const std::filesystem::path& file,
                                                             const PrivateCopies& copies);

// SHA-256 of a file's contents, lower-case hex; empty when the file cannot be read.
std::string file_sha256(const std::filesystem::path& file);

}  // namespace iotgw::plugins
