// What a CoAP request means on IoT Hub (README "CoAP"): which resource a Uri-Path names, what
// the Uri-Query carries (the reserved identity parameters, application properties), and how
// Content-Format numbers and the hub's refusals translate. Pure functions: the engine decides
// when to apply them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "codec/message.hpp"

namespace iotgw::coap {

enum class Resource { telemetry, c2d, unknown };

// `/telemetry`, `/t`, `/event` and `/e` are telemetry (Hono's event is telemetry at least once
// here, as IoT Hub has one kind); `/c2d` is the devicebound queue.
Resource resource_of(const Message& request);

struct Query {
  std::optional<std::string> device;                            // `d`
  std::optional<std::string> credential;                        // `p`
  std::vector<std::pair<std::string, std::string>> properties;  // every other `k=v` (or `k`)
};
Query parse_query(const Message& request);

// The content-type IoT Hub carries for a Content-Format number: the registered ones the
// constrained world uses, else "application/coap-cf-N" so nothing is lost on the way.
std::string content_type_of(std::uint32_t content_format);
// The Content-Format for a content-type, when one says the same (the inverse of the above).
std::optional<std::uint32_t> content_format_of(std::string_view content_type);

// The first critical option (RFC 7252 5.4.1) this server does not understand, if any.
std::optional<std::uint16_t> unknown_critical_option(const Message& request);

// The client error for what the hub or a stage refused, read from the reason it gave (AMQP's
// conditions name the cases CoAP has codes for): 4.03, 4.13, 4.29, else 4.00.
Code refusal_code(std::string_view reason);

// No-Response (RFC 7967, option 258): the classes of answer the client asked not to hear, and
// whether `response` is one of them.
inline constexpr std::uint16_t no_response_option = 258;
std::uint8_t no_response_of(const Message& request);
bool suppressed(std::uint8_t no_response, Code response);

}  // namespace iotgw::coap
