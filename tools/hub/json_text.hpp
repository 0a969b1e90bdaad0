// How the hub writes JSON: invalid UTF-8 in what a client sent (a device id in a URL, a payload
// that is not text) is replaced, never thrown at the thread that serves everyone.
#pragma once

#include <nlohmann/json.hpp>

namespace iotgw::hub {

inline constexpr auto kJsonReplace = nlohmann::json::error_handler_t::replace;

}  // namespace iotgw::hub
