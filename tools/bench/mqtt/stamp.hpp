// Time stamps that cross processes: a publisher writes one into its payload, a subscriber in
// another process reads it, so both must read the same clock. Shared by the MQTT and CoAP clients.
#pragma once

#include <cstdint>
#include <ctime>

#include "histogram.hpp"

namespace iotgw::bench {

// Nanoseconds of CLOCK_MONOTONIC: one clock for every process on the machine.
inline std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Records the microseconds from `then_ns` to now (0 for a stamp from the future).
inline void record_since(Histogram& h, std::int64_t then_ns) {
  const auto d = now_ns() - then_ns;
  h.record(d > 0 ? static_cast<std::uint64_t>(d / 1000) : 0);
}

}  // namespace iotgw::bench
