// Cloud-to-device queues, one per device, with IoT Hub's rules: at most `max_pending` messages a
// device; a delivered message is locked until the device settles it or the lock times out;
// complete removes it, abandon puts it back with its delivery count raised, reject and a count
// past the maximum dead-letter it; a message whose TTL passes dead-letters as expired.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string>

#include <proton/message.hpp>

#include "encoded_message.hpp"

namespace iotgw::hub {

using Clock = std::chrono::steady_clock;

struct C2dLimits {
  std::size_t max_pending = 50;
  int max_delivery_count = 10;
  std::chrono::milliseconds lock{60'000};
  std::chrono::milliseconds default_ttl{3'600'000};
};

// Why a message left its queue, as the feedback record's statusCode says it.
enum class C2dEnd { success, expired, delivery_count_exceeded, rejected };
const char* to_string(C2dEnd end);

struct C2dMessage {
  // The service's message, encoded: each delivery needs its own annotations, so it is decoded
  // once per delivery rather than copied (a copy encodes and decodes).
  EncodedMessage encoded;
  std::string message_id;  // for the feedback record and the log
  std::string ack;         // its iothub-ack property: which feedback the service asked for
  std::string device_id;
  std::string lock_token;  // set while locked
  int delivery_count = 0;
  std::int64_t sequence = 0;
  std::int64_t enqueued_ms = 0;  // Unix time, for feedback
  std::int64_t expires_unix_ms = 0;
  Clock::time_point expires;
  Clock::time_point locked_until{};
  bool locked = false;
};

class C2dQueues {
 public:
  // Called when a message leaves for good (for feedback and logs), and when an abandon raised
  // its delivery count (for the data dir).
  using OnEnd = std::function<void(const C2dMessage&, C2dEnd, const std::string& why)>;
  using OnAbandon = std::function<void(const C2dMessage&)>;

  C2dQueues(C2dLimits limits, OnEnd on_end, OnAbandon on_abandon = {})
      : limits_(limits), on_end_(std::move(on_end)), on_abandon_(std::move(on_abandon)) {}

  // The queued message, or nullptr when the device's queue is full.
  const C2dMessage* enqueue(const std::string& device, const proton::message& msg,
                            std::optional<std::chrono::milliseconds> ttl);
  // Replaying the data dir: a queued message, an abandon, an end (by sequence number).
  void restore(const std::string& device, std::int64_t seq, std::int64_t expires_unix_ms,
               std::int64_t enqueued_unix_ms, const proton::message& msg);
  void restore_abandon(const std::string& device, std::int64_t seq);
  void restore_end(const std::string& device, std::int64_t seq);
  void skip_to(std::int64_t next) { next_sequence_ = std::max(next_sequence_, next); }
  std::int64_t next_sequence() const { return next_sequence_; }
  // The next message to deliver to the device, now locked; nullptr when none is available.
  const C2dMessage* lock_next(const std::string& device);
  void complete(const std::string& device, const std::string& lock);
  void abandon(const std::string& device, const std::string& lock);
  void reject(const std::string& device, const std::string& lock, const std::string& why);
  // Unlocks messages whose lock ran out (as abandon) and dead-letters expired ones. Returns the
  // devices that have messages available again.
  std::vector<std::string> sweep();
  std::size_t pending(const std::string& device) const;
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [device, q] : queues_) {
      for (const auto& m : q) f(m);
    }
  }
  const C2dLimits& limits() const { return limits_; }

 private:
  std::list<C2dMessage>::iterator find(const std::string& device, const std::string& lock);
  void end(std::list<C2dMessage>& q, std::list<C2dMessage>::iterator it, C2dEnd how,
           const std::string& why);
  void unlock_again(std::list<C2dMessage>& q, std::list<C2dMessage>::iterator it);

  C2dLimits limits_;
  OnEnd on_end_;
  OnAbandon on_abandon_;
  std::map<std::string, std::list<C2dMessage>> queues_;
  std::int64_t next_sequence_ = 1;
  std::uint64_t next_lock_ = 1;
};

}  // namespace iotgw::hub
