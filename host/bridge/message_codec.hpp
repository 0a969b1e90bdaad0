// iotgw_msg <-> AMQP message, with IoT Hub's property mapping: system properties are AMQP
// properties, application properties are application-properties, annotations are annotations.
#pragma once

#include <proton/message.hpp>

#include "runtime/message.hpp"

namespace iotgw::bridge {

proton::message to_amqp(const iotgw_msg& msg);
iotgw_msg from_amqp(const proton::message& msg, const std::string& device_id);

}  // namespace iotgw::bridge
