// Wall-clock time as the hub protocols count it: Unix seconds (token expiry) and milliseconds
// (enqueued times).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

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

// "2026-11-30T21:09:13.042Z": how IoT Hub writes times in JSON (feedback, twin metadata).
inline std::string iso8601_utc(std::int64_t unix_ms) {
  const auto secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(when) + "." + std::to_string(1000 + unix_ms % 1000).substr(1) + "Z";
}

}  // namespace iotgw
