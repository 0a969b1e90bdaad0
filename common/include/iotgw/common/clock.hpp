// Wall-clock time as the hub protocols count it: Unix seconds (token expiry) and milliseconds
// (enqueued times, AMQP timestamps), and ISO 8601 as IoT Hub writes times in JSON and MQTT.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

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

// The Unix milliseconds of an ISO 8601 UTC time as device SDKs write it ("2026-11-30T21:09:13Z",
// "...13.042Z", up to 7 fraction digits as .NET writes them, "Z" or "+00:00" or no zone; a
// date-time only, UTC only); nothing for anything else.
inline std::optional<std::int64_t> parse_iso8601_utc(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(19);
  std::int64_t ms = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    std::size_t digits = 0;
    std::int64_t scale = 100;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      ms += (rest[digits] - '0') * scale;
      scale /= 10;
      ++digits;
    }
    if (digits == 0 || digits > 7) return std::nullopt;
    rest.remove_prefix(digits);
  }
  if (rest != "" && rest != "Z" && rest != "+00:00") return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

}  // namespace iotgw
