// How one log line reads in each format; the Logger decides whether and where to write it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "iotgw/common/log.hpp"

namespace iotgw::detail {

// The whole line, newline included. JSON escaping is nlohmann's, and bytes that are not UTF-8
// (a client's garbage quoted in an error) become U+FFFD rather than an invalid document.
std::string format_log_line(LogFormat format, std::int64_t unix_ms, LogLevel level,
                            std::string_view component, std::string_view message, LogFields fields);

}  // namespace iotgw::detail
