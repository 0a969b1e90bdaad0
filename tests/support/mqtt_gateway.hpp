// An `mqtt` listener in front of a real iotgw-hub, as the MQTT process tests (3.1.1, 5, over
// every transport) run it: devices prove themselves with a shared password (the tag stage's
// authenticator), and the bridge mints their hub tokens from the gateway's policy.
#pragma once

#include <string>

#include "hub_under_test.hpp"

namespace iotgw::test {

inline constexpr const char* kMqttPassword = "opensesame";

// `options` are the listener's adapter options; `listener_more` adds listener keys
// (", transport: ws"); `bridge_more` adds bridge keys (", attach_timeout: 1s").
inline std::string mqtt_topology(const HubUnderTest& hub, const std::string& options = "{}",
                                 const std::string& bridge_more = "",
                                 const std::string& listener_more = "") {
  return "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge(bridge_more) +
         "stages:\n"
         "  - {name: door, plugin: tag, config: {secret: " +
         kMqttPassword +
         "}}\n"
         "listeners:\n"
         "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0', auth: [door], options: " +
         options + listener_more + "}\n";
}

// An IoT Hub MQTT user name for the device.
inline std::string iothub_user(const std::string& device) {
  return std::string(kHubHost) + "/" + device + "/?api-version=2021-04-12";
}

// The line of `iotgw-hub monitor` output that holds the message with this body, or "".
inline std::string line_with_body(const std::string& seen, const std::string& body) {
  const auto at = seen.find("\"body\":\"" + body + "\"");
  if (at == std::string::npos) return {};
  const auto start = seen.rfind('\n', at);
  const auto from = start == std::string::npos ? 0 : start + 1;
  return seen.substr(from, seen.find('\n', at) - from);
}

}  // namespace iotgw::test
