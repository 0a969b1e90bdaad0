// A token bucket: `rate` tokens a second, holding at most `burst`. Not thread-safe; whoever
// shares one guards it. Full when first used, so a device (or a listener) starts with a burst.
#pragma once

#include <algorithm>
#include <chrono>

namespace iotgw::runtime {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double rate, double burst) : rate_(rate), burst_(std::max(burst, 1.0)) {}

  // Takes `n` when the bucket holds that many; false (and nothing taken) otherwise.
  bool try_take(double n, Clock::time_point now) {
    refill(now);
    if (tokens_ < n) return false;
    tokens_ -= n;
    return true;
  }

  // Takes `n` whatever the bucket holds, going into debt; returns how long until the debt is
  // repaid (zero when there is none). For what has already happened, as a message read.
  Clock::duration take(double n, Clock::time_point now) {
    refill(now);
    tokens_ -= n;
    return debt_time();
  }

  // How long until the bucket holds no debt; zero when it holds none now.
  Clock::duration debt(Clock::time_point now) {
    refill(now);
    return debt_time();
  }

 private:
  void refill(Clock::time_point now) {
    if (!started_) {
      started_ = true;
      tokens_ = burst_;
    } else if (now > filled_) {
      const std::chrono::duration<double> since = now - filled_;
      tokens_ = std::min(burst_, tokens_ + since.count() * rate_);
    }
    filled_ = std::max(filled_, now);
  }

  Clock::duration debt_time() const {
    if (tokens_ >= 0) return Clock::duration::zero();
    // Rounded, not ceiled: refills summed in floating point leave a debt of 1e-13 s where
    // none is left, which must read as none.
    return std::chrono::round<Clock::duration>(std::chrono::duration<double>(-tokens_ / rate_));
  }

  double rate_;
  double burst_;
  double tokens_ = 0;
  bool started_ = false;
  Clock::time_point filled_{};
};

}  // namespace iotgw::runtime
