// Telemetry the hub accepted, kept in order for a bounded time and count, and read by consumer
// groups: each group has its own position, so every group sees every message, oldest first.
#pragma once

#include <cstdint>
#include <deque>

#include <proton/message.hpp>

#include "encoded_message.hpp"

namespace iotgw::hub {

class TelemetryLog {
 public:
  // Messages are kept encoded (encoded_message.hpp): holding 100,000 decoded ones made the hub's
  // heap churn (fresh pages zeroed by the kernel were a fifth of its time) and cost 845 MB.
  using Encoded = EncodedMessage;

  explicit TelemetryLog(std::size_t capacity) : capacity_(capacity) {}

  // Stores the message under the next sequence number and returns that number.
  std::int64_t append(Encoded msg);
  // The first stored message with a sequence number >= seq, or nullptr.
  const Encoded* at_or_after(std::int64_t& seq) const;
  std::int64_t next_sequence() const { return next_; }
  std::size_t size() const { return messages_.size(); }
  // Puts back a message read from the data dir, with the number it had (ascending order).
  void restore(std::int64_t seq, const proton::message& msg);
  void skip_to(std::int64_t next) {
    if (next <= next_) return;
    next_ = next;
    if (messages_.empty()) first_ = next;
  }
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < messages_.size(); ++i)
      f(first_ + static_cast<std::int64_t>(i), messages_[i]);
  }

 private:
  std::size_t capacity_;
  std::deque<Encoded> messages_;
  std::int64_t first_ = 1;  // sequence number of messages_.front()
  std::int64_t next_ = 1;
};

}  // namespace iotgw::hub
