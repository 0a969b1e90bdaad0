// IoT Hub's twin and direct-method topics over MQTT (IOTHUB-PROTOCOL.md), as Azure's device SDKs
// use them: what a device's PUBLISH under `$iothub/` asks, which filters ask the hub to send
// something, and the topics the answers and the hub's own requests go out on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iotgw::mqtt {

// A device's PUBLISH under `$iothub/twin/` or `$iothub/methods/`.
struct DeviceRequest {
  enum class Kind {
    twin_get,         // $iothub/twin/GET/?$rid={rid}
    reported_patch,   // $iothub/twin/PATCH/properties/reported/?$rid={rid}
    twin_unknown,     // another twin resource or verb: IoT Hub answers 400
    method_response,  // $iothub/methods/res/{status}/?$rid={rid}
    // Nothing can be answered (no rid; a method response without an integer status; a
    // device publishing where only the hub does): IoT Hub drops it, and so do we.
    unanswerable,
  };
  Kind kind = Kind::unanswerable;
  // Exactly as the device wrote it (up to the next '&'), since the response must echo it.
  std::string rid;
  int status = 0;   // a method response's
  std::string why;  // unanswerable: for the log
};

// nullopt for a topic that is neither under `$iothub/twin/` nor `$iothub/methods/`.
std::optional<DeviceRequest> parse_device_request(std::string_view topic);

// The filters that ask for what the hub sends a device besides C2D.
enum class HubFilter {
  none,
  twin_responses,   // $iothub/twin/res/#: answers to the device's twin requests
  desired_patches,  // $iothub/twin/PATCH/properties/desired/#: needs the hub to watch
  methods,          // $iothub/methods/POST/#: needs the hub to route method calls here
};
HubFilter hub_filter(std::string_view filter);

// `$iothub/twin/res/{status}/?$rid={rid}[&$version={version}]`; no version when it is < 0.
std::string twin_response_topic(int status, std::string_view rid, std::int64_t version = -1);
// `$iothub/twin/PATCH/properties/desired/?$version={version}` (no bag when the version is < 0).
std::string desired_patch_topic(std::int64_t version);

// `$iothub/methods/POST/{name}/?$rid={rid}`, where the rid names the call for the host.
// nullopt for a name that would not survive the topic (empty; '/', '?', '+', '#' or NUL in it).
std::optional<std::string> method_call_topic(std::string_view name, std::uint64_t call);
// The call a rid from method_call_topic names; nullopt for one it cannot have written.
std::optional<std::uint64_t> method_call_of(std::string_view rid);

}  // namespace iotgw::mqtt
