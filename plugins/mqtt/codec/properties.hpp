// MQTT 5 property lists: read with every rule the spec gives them (which packet may carry which
// property, at most once except user properties and subscription identifiers, the values a
// property may take), and written back in one canonical order.
#pragma once

#include <cstdint>
#include <vector>

#include "codec/packets.hpp"
#include "codec/wire.hpp"

namespace iotgw::mqtt {

// Where a property list sits: the rules of that packet (or of a CONNECT's will) apply.
enum class PropertyPlace : std::uint8_t {
  connect,
  connack,
  publish,
  will,
  pub_ack,  // PUBACK, PUBREC, PUBREL, PUBCOMP
  subscribe,
  suback,
  unsubscribe,
  unsuback,
  disconnect,
  auth,
};

// Reads the length and the properties after it.
PacketProperties read_properties(wire::Reader& r, PropertyPlace place);
// Appends the length and the properties.
void write_properties(std::vector<std::uint8_t>& out, const PacketProperties& props);

}  // namespace iotgw::mqtt
