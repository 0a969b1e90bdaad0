// Wall-clock time as the hub protocols count it: Unix seconds (token expiry) and milliseconds
// (enqueued times).
#pragma once

#include <chrono>
#include <cstdint>

namespace iotgw {

inline std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t unix_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace iotgw
