// An IoT Hub device registry: a YAML file of devices and shared access policies, as an IoT Hub
// keeps them. iotgw-hub serves it; the auth-sas stage checks device tokens against it.
// Immutable once loaded; SIGHUP loads a fresh one.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace iotgw::hub {

struct Device {
  std::string id;
  std::string primary_key;    // base64
  std::string secondary_key;  // base64, may be empty
  bool enabled = true;
};

struct Policy {
  std::string name;
  std::string key;               // base64
  std::set<std::string> rights;  // service, device, registry
};

struct Registry {
  std::string hostname = "localhub.azure-devices.net";
  std::vector<Device> devices;
  std::vector<Policy> policies;

  const Device* device(const std::string& id) const;
  const Policy* policy(const std::string& name) const;

  // Throws std::runtime_error naming the file and what is wrong.
  static Registry load(const std::filesystem::path& file);
  void save(const std::filesystem::path& file) const;
  // A registry for a file that does not exist yet: the default host and a `service` policy.
  static Registry fresh();
};

}  // namespace iotgw::hub
