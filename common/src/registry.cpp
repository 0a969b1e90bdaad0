#include "iotgw/common/registry.hpp"

#include <fstream>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include "iotgw/common/sas_token.hpp"

namespace iotgw::hub {

namespace {

const std::set<std::string> kRights = {"service", "device", "registry"};

std::string required(const YAML::Node& n, const char* key, const std::string& what) {
  const YAML::Node v = n[key];
  if (!v.IsDefined() || !v.IsScalar() || v.Scalar().empty()) {
    throw std::runtime_error(what + ": missing '" + key + "'");
  }
  return v.Scalar();
}

void check_key(const std::string& key, const std::string& what) {
  if (!sas::base64_decode(key)) throw std::runtime_error(what + ": key is not base64");
}

}  // namespace

const Device* Registry::device(const std::string& id) const {
  const auto at = index_.find(id);
  return at == index_.end() ? nullptr : &devices_[at->second];
}

void Registry::put(Device d) {
  if (const auto at = index_.find(d.id); at != index_.end()) {
    devices_[at->second] = std::move(d);
    return;
  }
  index_.emplace(d.id, devices_.size());
  devices_.push_back(std::move(d));
}

bool Registry::remove(const std::string& id) {
  const auto at = index_.find(id);
  if (at == index_.end()) return false;
  const std::size_t gone = at->second;
  index_.erase(at);
  devices_.erase(devices_.begin() + static_cast<std::ptrdiff_t>(gone));
  // Rare (the service API's DELETE): the order is kept, the positions after it move down.
  for (auto& [_, position] : index_) {
    if (position > gone) --position;
  }
  return true;
}

const Policy* Registry::policy(const std::string& name) const {
  for (const auto& p : policies) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Registry Registry::fresh() {
  Registry r;
  r.policies.push_back({"service", sas::random_key(), {"service"}});
  return r;
}

Registry Registry::load(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(file.string() + ": " + e.what());
  }
  Registry r;
  const std::string where = file.string();
  if (root["hostname"].IsDefined()) r.hostname = root["hostname"].as<std::string>();
  for (const auto& d : root["devices"]) {
    Device dev;
    dev.id = required(d, "id", where + ": device");
    const std::string what = where + ": device '" + dev.id + "'";
    dev.primary_key = required(d, "primary_key", what);
    check_key(dev.primary_key, what);
    if (d["secondary_key"].IsDefined()) {
      dev.secondary_key = d["secondary_key"].as<std::string>();
      check_key(dev.secondary_key, what);
    }
    if (d["status"].IsDefined()) {
      const auto status = d["status"].as<std::string>();
      if (status != "enabled" && status != "disabled") {
        throw std::runtime_error(what + ": status must be enabled or disabled, not '" + status +
                                 "'");
      }
      dev.enabled = status == "enabled";
    }
    if (r.device(dev.id) != nullptr) throw std::runtime_error(what + ": listed twice");
    r.put(std::move(dev));
  }
  for (const auto& p : root["policies"]) {
    Policy pol;
    pol.name = required(p, "name", where + ": policy");
    const std::string what = where + ": policy '" + pol.name + "'";
    pol.key = required(p, "key", what);
    check_key(pol.key, what);
    for (const auto& right : p["rights"]) {
      if (kRights.count(right.Scalar()) == 0) {
        throw std::runtime_error(what + ": unknown right '" + right.Scalar() +
                                 "' (valid: device, registry, service)");
      }
      pol.rights.insert(right.Scalar());
    }
    r.policies.push_back(std::move(pol));
  }
  return r;
}

void Registry::save(const std::filesystem::path& file) const {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "hostname" << YAML::Value << hostname;
  out << YAML::Key << "devices" << YAML::Value << YAML::BeginSeq;
  for (const auto& d : devices_) {
    out << YAML::BeginMap << YAML::Key << "id" << YAML::Value << d.id;
    out << YAML::Key << "primary_key" << YAML::Value << d.primary_key;
    if (!d.secondary_key.empty())
      out << YAML::Key << "secondary_key" << YAML::Value << d.secondary_key;
    out << YAML::Key << "status" << YAML::Value << (d.enabled ? "enabled" : "disabled");
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::Key << "policies" << YAML::Value << YAML::BeginSeq;
  for (const auto& p : policies) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << p.name;
    out << YAML::Key << "key" << YAML::Value << p.key;
    out << YAML::Key << "rights" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& r : p.rights) out << r;
    out << YAML::EndSeq << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  // Keys live in this file: write it for its owner only, and atomically.
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << out.c_str() << "\n";
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::permissions(
      tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::filesystem::rename(tmp, file);
}

}  // namespace iotgw::hub
