#include "token_check.hpp"

#include <algorithm>
#include <cctype>

#include "iotgw/common/sas_token.hpp"

namespace iotgw::hub {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Grant refuse(int status, std::string why) {
  return {status, std::move(why), {}, false};
}

// Splits "{host}/devices/{id}[/...]" into host and device id (empty when it names no device).
void split_audience(const std::string& audience, std::string& host, std::string& device) {
  std::string a = audience;
  if (auto at = a.find("://"); at != std::string::npos) a = a.substr(at + 3);
  const auto slash = a.find('/');
  host = a.substr(0, slash);
  device.clear();
  if (slash == std::string::npos) return;
  const std::string rest = a.substr(slash + 1);
  if (rest.rfind("devices/", 0) != 0) return;
  const std::string tail = rest.substr(8);
  auto decoded = sas::url_decode(tail.substr(0, tail.find('/')));
  device = decoded.value_or("");
}

// Azure's Node SDKs put-token with the token's `sr` field as the name, still URL-encoded as it
// stands in the token ("myhub.azure-devices.net%2Fdevices%2Fdev1"); the C and C# SDKs send it
// plain. IoT Hub takes both. An encoded name has no '/' of its own, and a hub-level one ("{host}")
// has no '%': decoded once, it reads as the plain form.
std::string plain_audience(const std::string& audience) {
  if (audience.find('/') != std::string::npos || audience.find('%') == std::string::npos)
    return audience;
  return sas::url_decode(audience).value_or(audience);
}

}  // namespace

Grant check_token(const Registry& registry, const std::string& token, const std::string& name,
                  std::chrono::system_clock::time_point now) {
  const std::string audience = plain_audience(name);
  std::string why;
  auto t = sas::parse(token, why);
  if (!t) return refuse(401, "malformed token: " + why);

  std::string host, device_id;
  split_audience(audience, host, device_id);
  if (lower(host) != lower(registry.hostname)) {
    return refuse(404, "audience '" + audience + "' is not this hub (" + registry.hostname + ")");
  }
  const Device* device = nullptr;
  if (!device_id.empty()) {
    device = registry.device(device_id);
    if (device == nullptr) return refuse(404, "device '" + device_id + "' is not registered");
  }
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (t->expiry <= seconds) return refuse(401, "token expired");
  if (!sas::covers(t->resource, audience)) {
    return refuse(401, "token for '" + t->resource + "' does not cover '" + audience + "'");
  }

  Grant g{200, "OK", {}, false, t->expiry};
  if (!t->policy.empty()) {
    const Policy* policy = registry.policy(t->policy);
    if (policy == nullptr) return refuse(401, "unknown policy '" + t->policy + "'");
    if (!sas::signed_with(*t, policy->key))
      return refuse(401, "signature does not match policy '" + t->policy + "'");
    if (device != nullptr) {
      if (policy->rights.count("device") == 0) {
        return refuse(401, "policy '" + policy->name + "' lacks the device right");
      }
      g.device_id = device->id;
    } else {
      if (policy->rights.count("service") == 0) {
        return refuse(401, "policy '" + policy->name + "' lacks the service right");
      }
      g.service = true;
    }
  } else {
    // A device's own key signs only for that device's resource.
    std::string res_host, res_device;
    split_audience(t->resource, res_host, res_device);
    if (device == nullptr || res_device != device->id) {
      return refuse(401, "a device key token must name the device it is for");
    }
    if (!sas::signed_with(*t, device->primary_key) &&
        (device->secondary_key.empty() || !sas::signed_with(*t, device->secondary_key))) {
      return refuse(401, "signature does not match the keys of device '" + device->id + "'");
    }
    g.device_id = device->id;
  }
  if (device != nullptr && !device->enabled)
    return refuse(401, "device '" + device->id + "' is disabled");
  return g;
}

}  // namespace iotgw::hub
