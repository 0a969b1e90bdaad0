// Sessions that outlive their connection (MQTT 3.1.1 clean_session=0, MQTT 5 Session Expiry
// Interval), by device id: the filters granted, until they expire. One per listener, shared by
// its connections on every loop; the time is the caller's, so tests need no clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "engine.hpp"

namespace iotgw::mqtt {

class SessionStore {
 public:
  using Clock = std::chrono::steady_clock;

  // `clean` forgets what was stored. Otherwise true, with the filters, when a session was stored
  // and has not expired; it is taken out (the connection stores it again when it ends).
  bool resume(const std::string& device, bool clean, Filters& filters, Clock::time_point now);
  // `expiry` may be seconds::max(): until a clean session.
  void store(const std::string& device, const Filters& filters, std::chrono::seconds expiry,
             Clock::time_point now);
  std::size_t size() const;

 private:
  static constexpr std::uint64_t kSweepEvery = 1024;
  struct Stored {
    Filters filters;
    Clock::time_point expires;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Stored> sessions_;
  std::uint64_t stores_ = 0;
};

}  // namespace iotgw::mqtt
