#include "mapping.hpp"

#include <array>

namespace iotgw::coap {

namespace {

struct Format {
  std::uint32_t number;
  std::string_view type;
};
// RFC 7252 12.3 and the CBOR and JSON numbers devices actually send.
constexpr std::array kFormats{
    Format{0, "text/plain;charset=utf-8"}, Format{40, "application/link-format"},
    Format{41, "application/xml"},         Format{42, "application/octet-stream"},
    Format{47, "application/exi"},         Format{50, "application/json"},
    Format{60, "application/cbor"},
};
constexpr std::string_view kUnregisteredPrefix = "application/coap-cf-";

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

Resource resource_of(const Message& request) {
  const auto path = request.all(option::uri_path);
  if (path.size() != 1) return Resource::unknown;
  const auto& p = path.front();
  if (p == "telemetry" || p == "t" || p == "event" || p == "e") return Resource::telemetry;
  if (p == "c2d") return Resource::c2d;
  return Resource::unknown;
}

Query parse_query(const Message& request) {
  Query q;
  for (auto& item : request.all(option::uri_query)) {
    const auto eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string value = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    if (key == "d") {
      q.device = std::move(value);
    } else if (key == "p") {
      q.credential = std::move(value);
    } else if (!key.empty()) {
      q.properties.emplace_back(std::move(key), std::move(value));
    }
  }
  return q;
}

std::string content_type_of(std::uint32_t content_format) {
  for (const auto& f : kFormats) {
    if (f.number == content_format) return std::string(f.type);
  }
  return std::string(kUnregisteredPrefix) + std::to_string(content_format);
}

std::optional<std::uint32_t> content_format_of(std::string_view content_type) {
  for (const auto& f : kFormats) {
    if (f.type == content_type) return f.number;
  }
  // "application/json; charset=utf-8" and the like say no more than the bare type for JSON.
  const auto bare = content_type.substr(0, content_type.find(';'));
  if (bare == "application/json") return 50;
  if (bare == "text/plain") return 0;
  if (bare.starts_with(kUnregisteredPrefix)) {
    std::uint32_t n = 0;
    const auto digits = bare.substr(kUnregisteredPrefix.size());
    if (digits.empty() || digits.size() > 5) return std::nullopt;
    for (const char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (n <= 0xFFFF) return n;
  }
  return std::nullopt;
}

std::optional<std::uint16_t> unknown_critical_option(const Message& request) {
  for (const auto& o : request.options) {
    if (!option::critical(o.number)) continue;
    switch (o.number) {
      case option::uri_host:
      case option::uri_port:
      case option::uri_path:
      case option::uri_query:
      case option::accept:
      case option::block1:
      case option::block2: continue;
      default: return o.number;
    }
  }
  return std::nullopt;
}

Code refusal_code(std::string_view reason) {
  if (contains(reason, "unauthorized") || contains(reason, "forbidden")) return code::forbidden;
  if (contains(reason, "too large") || contains(reason, "message-size")) {
    return code::request_entity_too_large;
  }
  if (contains(reason, "resource-limit") || contains(reason, "throttl") ||
      contains(reason, "quota")) {
    return code::too_many_requests;
  }
  return code::bad_request;
}

std::uint8_t no_response_of(const Message& request) {
  const auto* o = request.find(no_response_option);
  if (o == nullptr) return 0;
  return static_cast<std::uint8_t>(decode_uint(o->value).value_or(0) & 0xFF);
}

bool suppressed(std::uint8_t bits, Code response) {
  // Value 2 is 2.xx, 8 is 4.xx, 16 is 5.xx.
  switch (response.cls()) {
    case 2: return (bits & 2U) != 0;
    case 4: return (bits & 8U) != 0;
    case 5: return (bits & 16U) != 0;
    default: return false;
  }
}

}  // namespace iotgw::coap
