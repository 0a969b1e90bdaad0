#include "app/file_watch.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <functional>

#include <yaml-cpp/yaml.h>

namespace iotgw::app {

namespace {

void scalars(const YAML::Node& node, const std::function<void(const std::string&)>& each) {
  if (node.IsScalar()) {
    each(node.Scalar());
  } else if (node.IsSequence()) {
    for (const auto& n : node) scalars(n, each);
  } else if (node.IsMap()) {
    for (const auto& kv : node) scalars(kv.second, each);
  }
}

}  // namespace

std::vector<std::filesystem::path> FileWatch::named_by(const std::filesystem::path& topology) {
  std::vector<std::filesystem::path> files{topology};
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(topology.string());
  } catch (const std::exception&) {
    return files;  // unreadable now: the reload that follows says why
  }
  const auto base = topology.parent_path();
  scalars(doc, [&](const std::string& text) {
    if (text.empty() || text.size() > 4096 || text.find('\n') != std::string::npos) return;
    const std::filesystem::path named(text);
    const auto p = named.is_absolute() ? named : base / named;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) files.push_back(p.lexically_normal());
  });
  std::sort(files.begin() + 1, files.end());
  files.erase(std::unique(files.begin() + 1, files.end()), files.end());
  return files;
}

void FileWatch::watch(std::vector<std::filesystem::path> files) {
  files_ = std::move(files);
  baseline_ = last_ = signature();
}

bool FileWatch::changed() {
  const auto now = signature();
  if (now != last_) {
    last_ = now;  // still moving: wait for it to hold still
    return false;
  }
  if (now == baseline_) return false;
  baseline_ = now;
  return true;
}

std::string FileWatch::signature() const {
  std::string sig;
  for (const auto& f : files_) {
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0) {
      sig += "-;";
      continue;
    }
    sig += std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
           std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return sig;
}

}  // namespace iotgw::app
