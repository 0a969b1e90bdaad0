// MQTT 3.1.1, 3.1 and 5 wire format, sans-I/O: bytes in, packets out, and back. Everything a
// device sends passes through decode(), so it checks all the spec makes checkable at this layer
// (flags, lengths, UTF-8, wildcards in a PUBLISH topic, which MQTT 5 property may appear where and
// how often) and says precisely what was wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "codec/packets.hpp"

namespace iotgw::mqtt {

// What went wrong maps to MQTT 5's reason codes: malformed 0x81, protocol_error 0x82 (a duplicate
// property, one the packet may not carry, a forbidden value), too_large 0x95.
enum class Decoded { packet, need_more, malformed, protocol_error, too_large };

struct DecodeOptions {
  std::size_t max_packet = 256 * 1024 + 1024;  // whole packet, fixed header included
  // How packets after CONNECT are read; a CONNECT says its own level.
  ProtocolLevel level = ProtocolLevel::v311;
};

// Decodes the packet at the front of `bytes`. `packet`: it is in `out` and `used` bytes were
// consumed. `need_more`: nothing consumed. Otherwise `error` says why; the connection ends.
Decoded decode(std::span<const std::uint8_t> bytes, const DecodeOptions& options, Packet& out,
               std::size_t& used, std::string& error);

// Appends the packet's bytes to `out`, in the form of the connection's level (a CONNECT in that
// of its own `level`).
void encode(const Packet& packet, std::vector<std::uint8_t>& out,
            ProtocolLevel level = ProtocolLevel::v311);

// Well-formed UTF-8 without U+0000 and without surrogates, as MQTT strings must be (1.5.3).
bool valid_mqtt_utf8(std::string_view text);

}  // namespace iotgw::mqtt
