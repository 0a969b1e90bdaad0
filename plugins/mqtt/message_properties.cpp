#include "message_properties.hpp"

#include <algorithm>

#include "iotgw/common/clock.hpp"

namespace iotgw::mqtt {

namespace {

constexpr std::string_view kContentType = "content-type";
constexpr std::string_view kCorrelationId = "correlation-id";
constexpr std::string_view kReplyTo = "reply-to";
constexpr std::string_view kExpiry = "absolute-expiry-time";
constexpr std::string_view kContentEncoding = "content-encoding";

bool is_utf8_name(std::string_view encoding) {
  std::string lower(encoding);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "utf-8" || lower == "utf8";
}

// Sets a system property unless the topic's bag already did: the bag names IoT Hub's keys
// exactly, so it wins over the MQTT 5 property that stands for the same one.
void set_system(Properties& to, std::string_view key, std::string value) {
  const bool present = std::any_of(to.system.begin(), to.system.end(),
                                   [&](const Property& p) { return p.first == key; });
  if (!present) to.system.emplace_back(key, std::move(value));
}

// Removes the system property and returns its value.
std::optional<std::string> take_system(Properties& from, std::string_view key) {
  auto it = std::find_if(from.system.begin(), from.system.end(),
                         [&](const Property& p) { return p.first == key; });
  if (it == from.system.end()) return std::nullopt;
  auto value = std::move(it->second);
  from.system.erase(it);
  return value;
}

}  // namespace

void add_message_properties(const PacketProperties& from, std::int64_t now_ms, Properties& to) {
  if (from.content_type) set_system(to, kContentType, *from.content_type);
  if (from.correlation_data) set_system(to, kCorrelationId, *from.correlation_data);
  if (from.response_topic) set_system(to, kReplyTo, *from.response_topic);
  if (from.message_expiry) {
    set_system(to, kExpiry,
               iso8601_utc(now_ms + static_cast<std::int64_t>(*from.message_expiry) * 1000));
  }
  if (from.payload_format == 1) set_system(to, kContentEncoding, "utf-8");
  to.application.insert(to.application.end(), from.user.begin(), from.user.end());
}

PacketProperties take_message_properties(Properties& from, std::int64_t now_ms) {
  PacketProperties out;
  out.content_type = take_system(from, kContentType);
  out.correlation_data = take_system(from, kCorrelationId);
  out.response_topic = take_system(from, kReplyTo);
  if (auto expiry = take_system(from, kExpiry)) {
    if (auto at = parse_iso8601_utc(*expiry); at && *at > now_ms) {
      // Rounded up: a message with 300 ms left must not read as already expired.
      out.message_expiry = static_cast<std::uint32_t>(
          std::min<std::int64_t>((*at - now_ms + 999) / 1000, 0xFFFFFFFF));
    }
  }
  if (auto encoding = take_system(from, kContentEncoding)) {
    if (is_utf8_name(*encoding)) {
      out.payload_format = 1;
    } else {
      from.system.emplace_back(kContentEncoding, std::move(*encoding));
    }
  }
  out.user = std::move(from.application);
  from.application.clear();
  return out;
}

}  // namespace iotgw::mqtt
