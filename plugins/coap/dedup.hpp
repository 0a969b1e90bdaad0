// Message deduplication (RFC 7252 4.5): a peer that missed our answer sends its message again
// with the same id, and must hear the same answer, not cause a second upload to the hub. One
// cache per peer, as message ids are the peer's own.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace iotgw::coap {

using Time = std::chrono::steady_clock::time_point;

class Dedup {
 public:
  enum class State {
    in_progress,  // no answer yet: a duplicate gets nothing
    acked,        // an empty ACK went out: a duplicate gets it again
    answered,     // `reply` went out: a duplicate gets it again
  };
  struct Entry {
    std::uint16_t id = 0;
    Time seen{};
    State state = State::in_progress;
    std::vector<std::uint8_t> reply;
  };

  // `capacity` bounds what one peer can make the gateway hold; a full cache forgets its oldest
  // entry, so a peer that reuses ids faster than that may see a message handled twice.
  Dedup(std::size_t capacity, std::chrono::seconds lifetime)
      : capacity_(capacity), lifetime_(lifetime) {}

  // The entry of a message with this id seen within the lifetime, or nullptr.
  Entry* find(std::uint16_t id, Time now);
  // Remembers a message not seen before (find returned nullptr).
  Entry& add(std::uint16_t id, Time now);
  // What became of a message, for its duplicates; a forgotten one is no longer tracked.
  void acked(std::uint16_t id, std::vector<std::uint8_t> ack);
  void answered(std::uint16_t id, std::vector<std::uint8_t> reply);
  std::size_t size() const { return entries_.size(); }

 private:
  void expire(Time now);
  Entry* lookup(std::uint16_t id);

  std::size_t capacity_;
  std::chrono::seconds lifetime_;
  // In arrival order, so also in expiry order. A vector, not a deque: an empty deque allocates,
  // and every idle session would pay for it.
  std::vector<Entry> entries_;
};

}  // namespace iotgw::coap
