// One device's upstream rate limits (the listener's device_message_rate and device_byte_rate),
// as IoT Hub throttles each device: token buckets holding one second's worth. A device over
// them is slowed by its connection reading nothing until it may send again, or, where the
// protocol can say so (MQTT 5's Quota exceeded), refused what it sends while over.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>

#include "runtime/token_bucket.hpp"

namespace iotgw::runtime {

struct DeviceRateLimits {
  double messages = 0;  // per second; 0: no bound
  double bytes = 0;     // payload bytes per second; 0: no bound
  bool any() const { return messages > 0 || bytes > 0; }
};

class DeviceRate {
 public:
  using Clock = TokenBucket::Clock;

  explicit DeviceRate(const DeviceRateLimits& limits) {
    if (limits.messages > 0) messages_.emplace(limits.messages, limits.messages);
    if (limits.bytes > 0) bytes_.emplace(limits.bytes, limits.bytes);
  }

  // A message of `bytes` went upstream: how long until the device may send again (zero: now).
  // A message larger than a second's bytes still goes, and the device then waits it off.
  Clock::duration sent(std::size_t bytes, Clock::time_point now) {
    auto wait = Clock::duration::zero();
    if (messages_) wait = messages_->take(1, now);
    if (bytes_) wait = std::max(wait, bytes_->take(static_cast<double>(bytes), now));
    return wait;
  }

  // How long until the device may send (zero: now).
  Clock::duration wait(Clock::time_point now) {
    auto wait = Clock::duration::zero();
    if (messages_) wait = messages_->debt(now);
    if (bytes_) wait = std::max(wait, bytes_->debt(now));
    return wait;
  }

 private:
  std::optional<TokenBucket> messages_;
  std::optional<TokenBucket> bytes_;
};

}  // namespace iotgw::runtime
