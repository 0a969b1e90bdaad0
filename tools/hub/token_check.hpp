// Deciding a CBS put-token as IoT Hub does: signature (both signing forms), expiry, audience by
// whole path segments, and the rights of a policy.
#pragma once

#include <chrono>
#include <string>

#include "iotgw/common/registry.hpp"

namespace iotgw::hub {

struct Grant {
  int status = 401;         // 200, 401 or 404: the CBS reply's status-code
  std::string description;  // the CBS reply's status-description
  // On 200: what the connection may now do.
  std::string device_id;    // a device's own token, or a policy with `device` for this device
  bool service = false;     // a policy with `service`
  std::int64_t expiry = 0;  // the token's se: the grant ends then unless a new token comes
};

// `name` is the put-token's name, its audience: "{host}/devices/{id}" or "{host}" (a scheme may
// precede), plain or URL-encoded as a whole (Azure's Node SDKs send the token's sr as it is).
Grant check_token(const Registry& registry, const std::string& token, const std::string& name,
                  std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace iotgw::hub
