// iotgw_msg <-> AMQP message, with IoT Hub's property mapping: system properties are AMQP
// properties, application properties are application-properties, annotations are annotations.
#pragma once

#include <proton/message.hpp>

#include "runtime/message.hpp"

namespace iotgw::bridge {

// Fills `out`, which must be empty (new, or clear()ed): a reused message keeps its buffers.
void to_amqp(const iotgw_msg& msg, proton::message& out);
iotgw_msg from_amqp(const proton::message& msg, const std::string& device_id);

}  // namespace iotgw::bridge
