// IoT Hub's service REST surface, as Azure's service SDKs call it over HTTPS: the device registry
// (/devices), twins (/twins/{id}) and direct methods (/twins/{id}/methods), each authorised by a
// SAS token with the rights IoT Hub asks for (registryRead, registryWrite, serviceConnect).
// Transport-free: https_server parses HTTP and hands a request here; the answer comes back
// through a callback, possibly from the hub's thread, since twins and method calls live there.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "iotgw/common/log.hpp"
#include "iotgw/common/registry.hpp"

namespace iotgw::hub {

class HubServer;

struct ServiceRequest {
  std::string method;  // GET, PUT, PATCH, POST, DELETE
  std::string target;  // path and query, as sent
  std::string authorization;
  std::string if_match;
  std::string body;
};

struct ServiceResponse {
  int status = 200;
  std::string body;  // JSON, or empty
  std::string etag;  // quoted, or empty
};

class ServiceApi {
 public:
  using Respond = std::function<void(ServiceResponse)>;

  // `registry_file` is where registry writes go (then the hub serves the new registry).
  ServiceApi(HubServer& hub, std::filesystem::path registry_file, Logger& log);

  // Any thread; `respond` runs exactly once, on this thread or the hub's.
  void handle(const ServiceRequest& request, const Respond& respond);

 private:
  void devices(const ServiceRequest& r, const std::string& id, const Respond& respond);
  void twins(const ServiceRequest& r, const std::string& id, const Respond& respond);
  void methods(const ServiceRequest& r, const std::string& id, const Respond& respond);

  HubServer& hub_;
  std::filesystem::path registry_file_;
  Logger& log_;
  std::mutex write_mutex_;  // registry writes, one at a time
};

}  // namespace iotgw::hub
