// gateway.watch: notices when the topology file or a file it names (certificates, keys,
// registries, dictionaries) changes, so the gateway reloads without a signal.
//
// It polls stat() rather than using inotify: stat follows symlinks, so Kubernetes' atomic swap
// of a mounted ConfigMap or Secret (the `..data` symlink moves to a new directory) shows as a new
// inode under the same path, as does an editor's write-and-rename; inotify would need a watch on
// every directory along each symlink chain, renewed after each swap. A second a poll over a
// handful of files costs nothing measurable.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace iotgw::app {

class FileWatch {
 public:
  // The topology file and every file a string anywhere in it names: absolute, or relative to
  // the topology's folder, that exists as a file now. Plugins' own keys are covered without
  // knowing them.
  static std::vector<std::filesystem::path> named_by(const std::filesystem::path& topology);

  // Watches `files` from now on: what they are now is the baseline.
  void watch(std::vector<std::filesystem::path> files);
  // Call once a poll. True once a change has held still for a whole poll (so a reload never
  // reads a certificate whose key is still being written), then false until the next change.
  bool changed();
  const std::vector<std::filesystem::path>& files() const { return files_; }

 private:
  std::string signature() const;

  std::vector<std::filesystem::path> files_;
  std::string baseline_, last_;
};

}  // namespace iotgw::app
