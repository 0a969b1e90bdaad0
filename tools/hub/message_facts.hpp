// What the hub reads off a message the way IoT Hub does: string properties, and the size that
// counts against IoT Hub's limits.
#pragma once

#include <cstddef>
#include <string>

#include <proton/message.hpp>

namespace iotgw::hub {

// An application property's text when it is a string or symbol; empty otherwise.
std::string property(const proton::message& m, const std::string& key);

// What IoT Hub counts towards its size limits: body, system property values, application
// property names and values.
std::size_t counted_size(const proton::message& m);

}  // namespace iotgw::hub
