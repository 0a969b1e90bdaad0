// What both ends of a benchmark do with bytes read: append them, hand on every whole packet,
// keep the rest for the next read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "codec/codec.hpp"

namespace iotgw::bench {

// Calls on_packet(packet) for each whole packet in `in`, read at the connection's `level`, (then
// drops those bytes) until on_packet returns false. Returns false, with `error`, for bytes that are
// not MQTT.
template <typename OnPacket>
bool read_packets(std::vector<std::uint8_t>& in, iotgw::mqtt::ProtocolLevel level,
                  OnPacket&& on_packet, std::string& error) {
  std::size_t at = 0;
  bool more = true;
  while (more) {
    iotgw::mqtt::Packet p;
    std::size_t used = 0;
    const auto r =
        iotgw::mqtt::decode(std::span(in).subspan(at),
                            {.max_packet = 256 * 1024 + 1024, .level = level}, p, used, error);
    if (r == iotgw::mqtt::Decoded::need_more) break;
    if (r != iotgw::mqtt::Decoded::packet) return false;
    at += used;
    more = on_packet(p);
  }
  in.erase(in.begin(), in.begin() + static_cast<long>(at));
  return true;
}

}  // namespace iotgw::bench
