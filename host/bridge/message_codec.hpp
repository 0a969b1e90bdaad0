// iotgw_msg <-> AMQP message, with IoT Hub's property mapping: system properties are AMQP
// properties, application properties are application-properties, annotations are annotations.
#pragma once

#include <proton/message.hpp>

#include "runtime/message.hpp"

namespace iotgw::bridge {

// Fills `out`, which must be empty (new, or clear()ed): a reused message keeps its buffers.
void to_amqp(const iotgw_msg& msg, proton::message& out);
iotgw_msg from_amqp(const proton::message& msg, const std::string& device_id);
// How many times the hub says it delivered a downstream message before: IoT Hub's
// `iothub-deliverycount`, the AMQP header's delivery-count, and, when `trust_first_acquirer`
// (a generic broker; IoT Hub leaves the header at its defaults), at least 1 when the header says
// the message may have been acquired before (RabbitMQ marks redeliveries only so).
std::uint32_t earlier_deliveries(const proton::message& msg, bool trust_first_acquirer);

// Both of the above in one pass over the message's annotations, as a C2D delivery needs them.
struct FromHub {
  iotgw_msg msg;
  std::uint32_t earlier_deliveries = 0;
};
FromHub from_hub(const proton::message& msg, const std::string& device_id,
                 bool trust_first_acquirer);

}  // namespace iotgw::bridge
