// The hub's device twins: per device tags, desired and reported properties, each section with its
// own $version and $metadata ($lastUpdated per property), as IoT Hub keeps them. Patches are JSON
// merge patches (RFC 7386: null deletes), checked as IoT Hub checks them (keys without '$', '.' or
// ' ', at most 10 levels deep, each section at most 32 KB). Every change is handed to `persist`
// whole, so the hub's durable log replays the last one. No I/O and no Proton here: the AMQP and
// HTTPS surfaces both read and write twins through this.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace iotgw::hub {

struct TwinLimits {
  std::size_t section_bytes = 32 * 1024;  // desired and reported, each
  int max_depth = 10;
};

// An answer with an HTTP-like status, as both surfaces send it.
struct TwinAnswer {
  int status = 200;
  std::int64_t version = -1;  // the section's new version (patches)
  std::string error;          // when status is not 2xx
  bool ok() const { return status >= 200 && status < 300; }
};

class TwinStore {
 public:
  using Persist = std::function<void(const std::string& device, const std::string& document)>;

  explicit TwinStore(TwinLimits limits = {}, Persist persist = {});

  // What the durable log held for a device (the last document persisted).
  void restore(const std::string& device, const std::string& document);

  // The device's view: {"desired": {..., "$version"}, "reported": {..., "$version"}}.
  nlohmann::json device_view(const std::string& device) const;
  // A device's reported patch; 204 with the new reported version, 400 or 413 with why.
  TwinAnswer patch_reported(const std::string& device, std::string_view body, std::int64_t now_ms);

  // The service's view: deviceId, etag, version, tags, properties with $metadata and $version.
  nlohmann::json service_view(const std::string& device) const;
  // A service patch of tags and properties.desired (PATCH /twins/{id}); `if_match` is an etag
  // (unquoted),
  // "*" or empty. On success `desired_patch` is what subscribed devices are sent (with
  // "$version"), or null when desired did not change.
  TwinAnswer patch_service(const std::string& device, const nlohmann::json& patch,
                           std::string_view if_match, std::int64_t now_ms,
                           nlohmann::json& desired_patch);
  // PUT /twins/{id}: tags and desired properties become the given ones (as a merge patch from
  // what is there, so metadata and versions move as a patch's would).
  TwinAnswer replace_service(const std::string& device, const nlohmann::json& twin,
                             std::string_view if_match, std::int64_t now_ms,
                             nlohmann::json& desired_patch);
  // The device is gone from the registry: so is its twin.
  void remove(const std::string& device);
  std::size_t size() const { return twins_.size(); }
  // Every twin as persist sees it (to compact the durable log).
  void for_each(const Persist& f) const;

 private:
  struct Twin {
    nlohmann::json tags = nlohmann::json::object();
    nlohmann::json desired = nlohmann::json::object();
    nlohmann::json reported = nlohmann::json::object();
    nlohmann::json desired_meta = nlohmann::json::object();
    nlohmann::json reported_meta = nlohmann::json::object();
    std::int64_t desired_version = 1, reported_version = 1, version = 1;
  };
  // Checks a patch as IoT Hub does; empty when it is fine.
  std::string check_patch(const nlohmann::json& patch, int depth) const;
  // 413 when a section, patched, would be over IoT Hub's size limit.
  std::optional<TwinAnswer> over_limit(const nlohmann::json& section, const char* which) const;
  void persist(const std::string& device, const Twin& t) const;
  static std::string document(const Twin& t);
  static std::string etag(const Twin& t);

  TwinLimits limits_;
  Persist persist_;
  std::map<std::string, Twin> twins_;  // a twin exists once something was written to it
};

}  // namespace iotgw::hub
