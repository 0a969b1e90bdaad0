#include "session_store.hpp"

namespace iotgw::mqtt {

bool SessionStore::resume(const std::string& device, bool clean, Filters& filters,
                          Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(device);
  filters.clear();
  if (it == sessions_.end()) return false;
  const bool live = it->second.expires > now;
  if (!clean && live) filters = std::move(it->second.filters);
  sessions_.erase(it);
  return !clean && live;
}

void SessionStore::store(const std::string& device, const Filters& filters,
                         std::chrono::seconds expiry, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  // Expired sessions of devices that never came back are swept now and then, so the store stays
  // the size of the sessions that can still resume.
  if (++stores_ % kSweepEvery == 0) {
    std::erase_if(sessions_, [now](const auto& s) { return s.second.expires <= now; });
  }
  // Compared in seconds: MQTT 3.1.1's "until a clean session" is seconds::max(), which overflows
  // the clock's nanoseconds (and so read as already expired).
  const auto room =
      std::chrono::duration_cast<std::chrono::seconds>(Clock::time_point::max() - now);
  sessions_[device] = {filters, expiry >= room ? Clock::time_point::max() : now + expiry};
}

std::size_t SessionStore::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

}  // namespace iotgw::mqtt
