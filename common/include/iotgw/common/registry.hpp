// An IoT Hub device registry: a YAML file of devices and shared access policies, as an IoT Hub
// keeps them. iotgw-hub serves it; the auth-sas stage checks device tokens against it.
// Immutable once loaded; SIGHUP loads a fresh one.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
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

class Registry {
 public:
  std::string hostname = "localhub.azure-devices.net";
  std::vector<Policy> policies;

  // In the order they were added (the file's order): tools hand device i to client i.
  const std::vector<Device>& devices() const { return devices_; }
  // By id in constant time: iotgw-hub looks one up for every login, and registries hold
  // hundreds of thousands.
  const Device* device(const std::string& id) const;
  // Adds the device, or replaces the one with its id in place.
  void put(Device d);
  // False when no device has the id.
  bool remove(const std::string& id);
  const Policy* policy(const std::string& name) const;

  // Throws std::runtime_error naming the file and what is wrong.
  static Registry load(const std::filesystem::path& file);
  void save(const std::filesystem::path& file) const;
  // A registry for a file that does not exist yet: the default host and a `service` policy.
  static Registry fresh();

 private:
  std::vector<Device> devices_;
  std::unordered_map<std::string, std::size_t> index_;  // id -> position in devices_
};

}  // namespace iotgw::hub
