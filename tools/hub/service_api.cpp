#include "service_api.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include <nlohmann/json.hpp>

#include "hub_server.hpp"
#include "iotgw/common/clock.hpp"
#include "iotgw/common/sas_token.hpp"
#include "json_text.hpp"

namespace iotgw::hub {

namespace {

using json = nlohmann::json;

enum class Right { registry_read, registry_write, service_connect };

// IoT Hub's rights by their names, and this hub's older short names for the same.
bool grants(const Policy& p, Right need) {
  auto has = [&](const char* name) { return p.rights.count(name) != 0; };
  switch (need) {
    case Right::registry_read:
      return has("registryRead") || has("registryWrite") || has("registry");
    case Right::registry_write: return has("registryWrite") || has("registry");
    case Right::service_connect: return has("serviceConnect") || has("service");
  }
  return false;
}

const char* name_of(Right r) {
  switch (r) {
    case Right::registry_read: return "registryRead";
    case Right::registry_write: return "registryWrite";
    case Right::service_connect: return "serviceConnect";
  }
  return "";
}

// IoT Hub's error body: a code the SDKs map to their error types, and a message for people.
ServiceResponse error(int status, const std::string& code, const std::string& message) {
  return {status,
          json{{"Message", "ErrorCode:" + code + ";" + message}, {"ExceptionMessage", ""}}.dump(
              -1, ' ', false, kJsonReplace),
          {}};
}

// Empty when the token in `authorization` holds `need` on this hub; else why not.
std::string refusal(const Registry& registry, const std::string& authorization, Right need) {
  if (authorization.empty()) return "no Authorization header (a SharedAccessSignature)";
  std::string why;
  auto token = sas::parse(authorization, why);
  if (!token) return "malformed token: " + why;
  if (token->policy.empty()) return "a device token cannot use the service API";
  if (!sas::covers(token->resource, registry.hostname)) {
    return "token for '" + token->resource + "' does not cover '" + registry.hostname + "'";
  }
  if (token->expiry <= unix_seconds()) return "token expired";
  const Policy* policy = registry.policy(token->policy);
  if (policy == nullptr) return "unknown policy '" + token->policy + "'";
  if (!sas::signed_with(*token, policy->key)) {
    return "signature does not match policy '" + token->policy + "'";
  }
  if (!grants(*policy, need)) {
    return "policy '" + policy->name + "' lacks the " + name_of(need) + " right";
  }
  return {};
}

ServiceResponse not_registered(const std::string& id) {
  return error(404, "DeviceNotFound", "device '" + id + "' is not registered");
}

// The registry to serve `r` with, when its token holds `need`; else null, and `r` is answered 401.
std::shared_ptr<const Registry> authorised(std::shared_ptr<const Registry> registry,
                                           const ServiceRequest& r, Right need,
                                           const ServiceApi::Respond& respond) {
  if (auto why = refusal(*registry, r.authorization, need); !why.empty()) {
    respond(error(401, "IotHubUnauthorizedAccess", why));
    return nullptr;
  }
  return registry;
}

std::string quoted(const std::string& etag) {
  return "\"" + etag + "\"";
}
std::string unquoted(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return etag;
}

// A device's etag changes whenever what the registry holds for it does.
std::string device_etag(const Device& d) {
  const auto mac = sas::hmac_sha256(
      {}, d.id + "\n" + d.primary_key + "\n" + d.secondary_key + "\n" + (d.enabled ? "1" : "0"));
  return sas::base64_encode({mac.begin(), mac.begin() + 9});
}

json device_json(const Device& d) {
  return json{
      {"deviceId", d.id},
      {"generationId", device_etag(d)},
      {"etag", device_etag(d)},
      {"status", d.enabled ? "enabled" : "disabled"},
      {"statusReason", nullptr},
      {"connectionState", "Disconnected"},
      {"cloudToDeviceMessageCount", 0},
      {"authentication",
       {{"type", "sas"},
        {"symmetricKey", {{"primaryKey", d.primary_key}, {"secondaryKey", d.secondary_key}}},
        {"x509Thumbprint", {{"primaryThumbprint", nullptr}, {"secondaryThumbprint", nullptr}}}}},
      {"capabilities", {{"iotEdge", false}}}};
}

// "/twins/dev1/methods?api-version=..." -> {"twins", "dev1", "methods"}, ids URL-decoded.
std::vector<std::string> path_segments(const std::string& target) {
  std::vector<std::string> out;
  const std::string path = target.substr(0, target.find('?'));
  std::size_t at = 0;
  while (at < path.size()) {
    const auto next = path.find('/', at);
    const auto seg = path.substr(at, next == std::string::npos ? std::string::npos : next - at);
    if (!seg.empty()) out.push_back(sas::url_decode(seg).value_or(seg));
    if (next == std::string::npos) break;
    at = next + 1;
  }
  return out;
}

}  // namespace

ServiceApi::ServiceApi(HubServer& hub, std::filesystem::path registry_file, Logger& log)
    : hub_(hub), registry_file_(std::move(registry_file)), log_(log) {}

void ServiceApi::handle(const ServiceRequest& r, const Respond& respond) {
  const auto path = path_segments(r.target);
  if (path.size() == 1 && path[0] == "devices") {
    devices(r, {}, respond);
  } else if (path.size() == 2 && path[0] == "devices") {
    devices(r, path[1], respond);
  } else if (path.size() == 2 && path[0] == "twins") {
    twins(r, path[1], respond);
  } else if (path.size() == 3 && path[0] == "twins" && path[2] == "methods") {
    methods(r, path[1], respond);
  } else {
    respond(error(404, "NotFound", "no such resource: " + r.method + " " + r.target));
  }
}

void ServiceApi::devices(const ServiceRequest& r, const std::string& id, const Respond& respond) {
  const bool write = r.method == "PUT" || r.method == "DELETE";
  if (!write && r.method != "GET") {
    respond(error(405, "MethodNotAllowed", r.method + " is not allowed on /devices"));
    return;
  }
  const auto registry =
      authorised(hub_.registry(), r, write ? Right::registry_write : Right::registry_read, respond);
  if (!registry) return;
  if (r.method == "GET") {
    if (id.empty()) {
      json all = json::array();
      for (const auto& d : registry->devices()) all.push_back(device_json(d));
      respond({200, all.dump(-1, ' ', false, kJsonReplace), {}});
      return;
    }
    const Device* d = registry->device(id);
    respond(d == nullptr ? not_registered(id)
                         : ServiceResponse{200, device_json(*d).dump(-1, ' ', false, kJsonReplace),
                                           quoted(device_etag(*d))});
    return;
  }
  if (id.empty()) {
    respond(error(405, "MethodNotAllowed", r.method + " needs a device id"));
    return;
  }
  std::lock_guard lock(write_mutex_);
  Registry next = *hub_.registry();
  const Device* it = next.device(id);
  const bool exists = it != nullptr;
  const std::string match = unquoted(r.if_match);
  if (exists && !match.empty() && match != "*" && match != device_etag(*it)) {
    respond(error(412, "PreconditionFailed", "the device's etag is not " + r.if_match));
    return;
  }
  if (r.method == "DELETE") {
    if (!exists) {
      respond(not_registered(id));
      return;
    }
    next.remove(id);
  } else {
    if (exists && match.empty()) {
      respond(error(409, "DeviceAlreadyExists", "device '" + id + "' is already registered"));
      return;
    }
    const auto body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || body.value("deviceId", id) != id) {
      respond(error(400, "ArgumentInvalid", "the body must be a device whose deviceId is " + id));
      return;
    }
    Device d = exists ? *it : Device{id, sas::random_key(), sas::random_key(), true};
    d.enabled = body.value("status", std::string("enabled")) != "disabled";
    const auto keys =
        body.value("authentication", json::object()).value("symmetricKey", json::object());
    // An empty key is no key: IoT Hub fills it in. Azure's Node service SDK sends
    // {"primaryKey": "", "secondaryKey": ""} for a device given without authentication, and
    // registry.create({deviceId}) was refused with 400 ("device keys must be base64").
    auto key = [&](const char* name, std::string& into) {
      const auto v = keys.value(name, json());
      if (v.is_string() && !v.get<std::string>().empty()) into = v.get<std::string>();
    };
    key("primaryKey", d.primary_key);
    key("secondaryKey", d.secondary_key);
    if (!sas::base64_decode(d.primary_key) || !sas::base64_decode(d.secondary_key)) {
      respond(error(400, "ArgumentInvalid", "device keys must be base64"));
      return;
    }
    next.put(d);
  }
  try {
    next.save(registry_file_);
  } catch (const std::exception& e) {
    respond(error(500, "ServerError", e.what()));
    return;
  }
  hub_.set_registry(std::make_shared<const Registry>(next));
  log_.info("hub", "registry: " + r.method + " device " + id + " (saved to " +
                       registry_file_.string() + ")");
  if (r.method == "DELETE") {
    hub_.on_hub_thread([&hub = hub_, id] { hub.twins().remove(id); });
    respond({204, {}, {}});
    return;
  }
  const Device* saved = next.device(id);
  respond(
      {200, device_json(*saved).dump(-1, ' ', false, kJsonReplace), quoted(device_etag(*saved))});
}

void ServiceApi::twins(const ServiceRequest& r, const std::string& id, const Respond& respond) {
  if (r.method != "GET" && r.method != "PATCH" && r.method != "PUT") {
    respond(error(405, "MethodNotAllowed", r.method + " is not allowed on /twins"));
    return;
  }
  const auto registry =
      authorised(hub_.registry(), r,
                 r.method == "GET" ? Right::registry_read : Right::service_connect, respond);
  if (!registry) return;
  if (registry->device(id) == nullptr) {
    respond(not_registered(id));
    return;
  }
  json body;
  if (r.method != "GET") {
    body = json::parse(r.body, nullptr, false);
    if (!body.is_object()) {
      respond(error(400, "ArgumentInvalid", "the body is not a JSON object"));
      return;
    }
  }
  // The store compares etags as it makes them, unquoted; Azure's Node SDK quotes every If-Match,
  // "*" too.
  const bool queued =
      hub_.on_hub_thread([&hub = hub_, r, match = unquoted(r.if_match), id, body, respond] {
        auto& store = hub.twins();
        if (r.method != "GET") {
          json desired_patch;
          const auto answer =
              r.method == "PATCH"
                  ? store.patch_service(id, body, match, unix_millis(), desired_patch)
                  : store.replace_service(id, body, match, unix_millis(), desired_patch);
          if (!answer.ok()) {
            respond(error(answer.status,
                          answer.status == 412 ? "PreconditionFailed" : "ArgumentInvalid",
                          answer.error));
            return;
          }
          if (!desired_patch.is_null()) hub.operations().desired_changed(id, desired_patch);
        }
        auto view = store.service_view(id);
        const std::string etag = "\"" + view.value("etag", std::string()) + "\"";
        respond({200, view.dump(-1, ' ', false, kJsonReplace), etag});
      });
  if (!queued) respond(error(503, "ServiceUnavailable", "the hub is stopping"));
}

void ServiceApi::methods(const ServiceRequest& r, const std::string& id, const Respond& respond) {
  if (r.method != "POST") {
    respond(error(405, "MethodNotAllowed", r.method + " is not allowed on methods"));
    return;
  }
  const auto registry = authorised(hub_.registry(), r, Right::service_connect, respond);
  if (!registry) return;
  if (registry->device(id) == nullptr) {
    respond(not_registered(id));
    return;
  }
  const auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.value("methodName", json()).is_string() ||
      body["methodName"].get<std::string>().empty()) {
    respond(error(400, "ArgumentInvalid", "the body needs a methodName"));
    return;
  }
  const auto seconds = [&](const char* key, std::int64_t fallback, std::int64_t lo,
                           std::int64_t hi) -> std::optional<std::int64_t> {
    const auto v = body.value(key, json(fallback));
    if (!v.is_number_integer()) return std::nullopt;
    const auto n = v.get<std::int64_t>();
    return n < lo || n > hi ? std::nullopt : std::optional(n);
  };
  const auto response_timeout = seconds("responseTimeoutInSeconds", 30, 5, 300);
  const auto connect_timeout = seconds("connectTimeoutInSeconds", 0, 0, 300);
  if (!response_timeout || !connect_timeout) {
    respond(
        error(400, "ArgumentInvalid",
              "responseTimeoutInSeconds must be 5 to 300 and connectTimeoutInSeconds 0 to 300"));
    return;
  }
  const std::string payload = body.value("payload", json()).dump(-1, ' ', false, kJsonReplace);
  if (payload.size() > std::size_t{128} * 1024) {
    respond(error(413, "MessageTooLarge", "the method payload is over 128 KB"));
    return;
  }
  const std::string name = body["methodName"];
  const bool queued = hub_.on_hub_thread([&hub = hub_, id, name, payload, respond,
                                          response = std::chrono::seconds(*response_timeout),
                                          connect = std::chrono::seconds(*connect_timeout)] {
    hub.operations().invoke(id, name, payload, response, connect, unix_millis(),
                            [respond](const DeviceOperations::Outcome& o) {
                              if (!o.answered) {
                                respond({o.status, o.body, {}});
                                return;
                              }
                              auto device_payload = json::parse(o.body, nullptr, false);
                              if (o.body.empty()) device_payload = nullptr;
                              if (device_payload.is_discarded())
                                device_payload = o.body;  // not JSON: as text
                              respond({200,
                                       json{{"status", o.status}, {"payload", device_payload}}.dump(
                                           -1, ' ', false, kJsonReplace),
                                       {}});
                            });
  });
  if (!queued) respond(error(503, "ServiceUnavailable", "the hub is stopping"));
}

}  // namespace iotgw::hub
