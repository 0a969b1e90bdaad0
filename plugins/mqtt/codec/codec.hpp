// MQTT 3.1.1 (and 3.1) wire format, sans-I/O: bytes in, packets out, and back. Everything a
// device sends passes through decode(), so it checks all the spec makes checkable at this layer
// (flags, lengths, UTF-8, wildcards in a PUBLISH topic) and says precisely what was wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "codec/packets.hpp"

namespace iotgw::mqtt {

enum class Decoded { packet, need_more, malformed };

struct DecodeLimits {
  std::size_t max_packet = 256 * 1024 + 1024;  // whole packet, fixed header included
};

// Decodes the packet at the front of `bytes`. `packet`: it is in `out` and `used` bytes were
// consumed. `need_more`: nothing consumed. `malformed`: `error` says why; the connection ends.
Decoded decode(std::span<const std::uint8_t> bytes, const DecodeLimits& limits, Packet& out,
               std::size_t& used, std::string& error);

// Appends the packet's bytes to `out`.
void encode(const Packet& packet, std::vector<std::uint8_t>& out);

// Well-formed UTF-8 without U+0000 and without surrogates, as MQTT strings must be (1.5.3).
bool valid_mqtt_utf8(std::string_view text);

}  // namespace iotgw::mqtt
