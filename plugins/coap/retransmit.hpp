// Our confirmable messages (separate responses, Observe notifications) until the peer ACKs or
// RSTs them (RFC 7252 4.2, 4.8): at most `max_outstanding` at a time, the rest waiting in order,
// each sent again after ACK_TIMEOUT x a random factor, doubling, MAX_RETRANSMIT times, then given
// up.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "dedup.hpp"

namespace iotgw::coap {

struct Backoff {
  std::chrono::milliseconds ack_timeout{2'000};
  double random_factor = 1.5;
  unsigned max_retransmit = 4;

  // The first timeout for `random` in [0, 1): from ack_timeout to ack_timeout x random_factor.
  std::chrono::milliseconds initial(double random) const;
};

// What a confirmable message was, so its ACK, RST or abandonment reaches the right owner.
struct Tag {
  enum class Kind { response, notification } kind = Kind::response;
  std::uint64_t delivery = 0;  // a notification's C2D delivery
};

class Outbox {
 public:
  Outbox(Backoff backoff, std::size_t max_outstanding)
      : backoff_(backoff), max_outstanding_(max_outstanding == 0 ? 1 : max_outstanding) {}

  // Queues a CON; send_ready() says when it may go.
  void push(std::uint16_t id, std::vector<std::uint8_t> datagram, Tag tag);
  // The next queued CON that fits under max_outstanding, now in flight; nullptr when none.
  // `random` in [0, 1) is drawn only for a message that goes.
  template <class Random>
  const std::vector<std::uint8_t>* send_ready(Time now, Random&& random) {
    if (waiting_.empty() || flight_.size() >= max_outstanding_) return nullptr;
    auto m = std::move(waiting_.front());
    waiting_.erase(waiting_.begin());
    m.timeout = backoff_.initial(random());
    m.deadline = now + m.timeout;
    flight_.push_back(std::move(m));
    return &flight_.back().datagram;
  }
  // The peer's ACK or RST for `id`: the tag of what it answered, or nullopt (not ours, or
  // answered already).
  std::optional<Tag> settle(std::uint16_t id);

  struct Due {
    std::vector<std::vector<std::uint8_t>> resend;
    std::vector<Tag> abandoned;
  };
  // What is due at `now`: datagrams to send again, and what went unanswered to the end.
  Due due(Time now);
  std::optional<Time> next_deadline() const;
  std::size_t in_flight() const { return flight_.size(); }
  std::size_t waiting() const { return waiting_.size(); }

 private:
  struct Con {
    std::uint16_t id = 0;
    std::vector<std::uint8_t> datagram;
    Tag tag;
    unsigned retransmits = 0;
    std::chrono::milliseconds timeout{};
    Time deadline{};
  };

  Backoff backoff_;
  std::size_t max_outstanding_;
  std::vector<Con> flight_;   // a handful at most: scanning beats a map
  std::vector<Con> waiting_;  // a few at most; an empty deque would allocate
};

}  // namespace iotgw::coap
