// The CoAP wire format (RFC 7252 section 3), sans-I/O: one datagram in, one message out, and
// back. Every datagram a peer sends passes through decode(), so it checks what the RFC makes
// checkable here and says what was wrong; what to answer (RST, 4.00, silence) is the engine's.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "codec/message.hpp"

namespace iotgw::coap {

enum class Decoded {
  message,
  // A message format error (RFC 7252 4.2, 4.3): a CON is answered with RST when its id could be
  // read (`out.id` and `out.type` are set then), anything else is dropped silently.
  format_error,
  // Not CoAP at all (too short, version other than 1): dropped silently.
  not_coap,
};

Decoded decode(std::span<const std::uint8_t> datagram, Message& out, std::string& error);

// Appends the message's datagram to `out`. Options go out in number order whatever their order
// in `message`; those with the same number keep theirs.
void encode(const Message& message, std::vector<std::uint8_t>& out);

}  // namespace iotgw::coap
