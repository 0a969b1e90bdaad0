// JSON text for the few things the hub writes as JSON (feedback records, monitor lines).
#pragma once

#include <string>
#include <string_view>

namespace iotgw::hub {

// A JSON string literal, quotes included.
std::string json_string(std::string_view text);

}  // namespace iotgw::hub
