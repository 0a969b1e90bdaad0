#include "iothub_topics.hpp"

#include <array>

#include "iotgw/common/sas_token.hpp"

namespace iotgw::mqtt {

namespace {

// `$.` keys of the bag and the system property each stands for (IOTHUB-PROTOCOL.md).
struct SystemKey {
  std::string_view bag, system;
  bool application;  // carried as an application property, as IoT Hub does
};
constexpr std::array<SystemKey, 9> kSystemKeys{{
    {"$.mid", "message-id", false},
    {"$.cid", "correlation-id", false},
    {"$.ct", "content-type", false},
    {"$.ce", "content-encoding", false},
    {"$.uid", "user-id", false},
    {"$.to", "to", false},
    {"$.exp", "absolute-expiry-time", false},
    {"$.ctime", "iothub-creation-time-utc", true},
    {"$.on", "iothub-outputname", true},
}};

std::string devices_prefix(std::string_view device) {
  return "devices/" + std::string(device) + "/";
}

}  // namespace

std::optional<std::string_view> telemetry_bag(std::string_view topic, std::string_view device) {
  const std::string base = devices_prefix(device) + "messages/events";
  if (topic.substr(0, base.size()) != base) return std::nullopt;
  const auto rest = topic.substr(base.size());
  if (rest.empty()) return rest;
  if (rest.front() != '/') return std::nullopt;
  return rest.substr(1);
}

bool names_another_device(std::string_view topic, std::string_view device) {
  constexpr std::string_view kDevices = "devices/";
  if (topic.substr(0, kDevices.size()) != kDevices) return false;
  const auto id_end = topic.find('/', kDevices.size());
  return topic.substr(kDevices.size(), id_end - kDevices.size()) != device;
}

bool mappable_topic(std::string_view topic) {
  return !topic.starts_with("devices/") && !topic.starts_with("$");
}

std::string c2d_filter(std::string_view device) {
  return devices_prefix(device) + "messages/devicebound/#";
}

std::string c2d_topic(std::string_view device, const Properties& props) {
  return devices_prefix(device) + "messages/devicebound/" + format_bag(props);
}

std::optional<Properties> parse_bag(std::string_view bag, std::string& error) {
  Properties out;
  while (!bag.empty()) {
    const auto amp = bag.find('&');
    const auto item = bag.substr(0, amp);
    bag = amp == std::string_view::npos ? std::string_view{} : bag.substr(amp + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    auto key = sas::url_decode(item.substr(0, eq));
    auto value = sas::url_decode(eq == std::string_view::npos ? "" : item.substr(eq + 1));
    if (!key || !value || key->empty()) {
      error = "property '" + std::string(item) + "' does not decode";
      return std::nullopt;
    }
    bool system = false;
    for (const auto& k : kSystemKeys) {
      if (*key != k.bag) continue;
      (k.application ? out.application : out.system).emplace_back(k.system, *value);
      system = true;
      break;
    }
    if (!system) out.application.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::string format_bag(const Properties& props) {
  std::string out;
  const auto add = [&out](std::string_view key, std::string_view value) {
    if (!out.empty()) out += '&';
    out += sas::url_encode(key);
    out += '=';
    out += sas::url_encode(value);
  };
  for (const auto& [name, value] : props.system) {
    for (const auto& k : kSystemKeys) {
      if (!k.application && name == k.system) add(k.bag, value);
    }
  }
  for (const auto& [name, value] : props.application) {
    bool system = false;
    for (const auto& k : kSystemKeys) {
      if (k.application && name == k.system) {
        add(k.bag, value);
        system = true;
      }
    }
    if (!system) add(name, value);
  }
  return out;
}

}  // namespace iotgw::mqtt
