// MQTT 5's message properties and what IoT Hub calls the same things (the AMQP message's
// properties and application properties; README "MQTT 5"), both ways. The property bag in the
// topic still works over MQTT 5; these come on top of it.
#pragma once

#include <cstdint>

#include "codec/packets.hpp"
#include "iothub_topics.hpp"

namespace iotgw::mqtt {

// Upstream: adds what a PUBLISH's (or a will's) properties say to the message's. `now_ms` (Unix
// milliseconds) turns a message expiry interval into the absolute time AMQP carries.
void add_message_properties(const PacketProperties& from, std::int64_t now_ms, Properties& to);

// Downstream: takes out of `from` what MQTT 5 carries natively (content type, correlation data,
// response topic, expiry, UTF-8 payload format, and application properties as user properties)
// and returns it; what stays in `from` goes in the topic's bag. An expiry already past is left
// out, as MQTT 5 has no way to say it.
PacketProperties take_message_properties(Properties& from, std::int64_t now_ms);

}  // namespace iotgw::mqtt
