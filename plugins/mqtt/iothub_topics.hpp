// IoT Hub's MQTT topic conventions (IOTHUB-PROTOCOL.md): where a device's telemetry goes, which
// filter asks for its cloud-to-device messages, and the URL-encoded property bag at the end of
// both, whose `$.` keys are the message's system properties.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iotgw::mqtt {

using Property = std::pair<std::string, std::string>;

// What a message carries besides its body, split as the host's message scopes are.
struct Properties {
  std::vector<Property> system;       // message-id, correlation-id, content-type, to, ...
  std::vector<Property> application;  // the device's own keys, and creation time, output name
};

// The property bag of `devices/{device}/messages/events[/{bag}]`, or nullopt when the topic is
// not that device's telemetry topic.
std::optional<std::string_view> telemetry_bag(std::string_view topic, std::string_view device);

// True for a topic under another device's `devices/{id}/`: a device may publish only as itself.
bool names_another_device(std::string_view topic, std::string_view device);

// Topics and filters a mapping stage may use: none of IoT Hub's own, under `devices/` or `$`.
bool mappable_topic(std::string_view topic);

// The filter a device subscribes to for its C2D messages, and the topic they arrive on.
std::string c2d_filter(std::string_view device);
std::string c2d_topic(std::string_view device, const Properties& props);

// Parses `k=v&k2=v2` (URL-encoded; `$` may come as `%24`). Returns nullopt with `error` set for
// a bag that does not decode.
std::optional<Properties> parse_bag(std::string_view bag, std::string& error);
std::string format_bag(const Properties& props);

}  // namespace iotgw::mqtt
