// The peer's observation of /c2d (RFC 7641): the token its notifications carry, their sequence
// numbers, and the C2D messages waiting for the one in flight to be acknowledged. One per peer,
// as /c2d is one resource.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace iotgw::coap {

struct Downstream {
  std::string body;
  std::string content_type;  // empty: none
};

class Observation {
 public:
  bool active() const { return token_.has_value(); }
  const std::string& token() const { return *token_; }
  void start(std::string token) { token_ = std::move(token); }
  // Ends it; the messages that waited are the caller's to give back.
  std::vector<std::pair<Downstream, std::uint64_t>> stop();

  // The Observe value of the next notification or registration answer: 24 bits, increasing
  // (RFC 7641 4.4), wrapping as the RFC allows.
  std::uint32_t next_sequence() { return seq_++ & 0xFFFFFF; }

  // False when full: the caller gives the message back to the hub.
  bool queue(Downstream message, std::uint64_t delivery, std::size_t limit);
  // The next message to notify when none is in flight.
  std::optional<std::pair<Downstream, std::uint64_t>> next();
  void sent(std::uint64_t delivery) { in_flight_ = delivery; }
  bool in_flight(std::uint64_t delivery) const { return in_flight_ == delivery; }
  void done() { in_flight_.reset(); }

 private:
  std::optional<std::string> token_;
  std::uint32_t seq_ = 1;
  std::vector<std::pair<Downstream, std::uint64_t>> waiting_;  // max_queued_c2d at most
  std::optional<std::uint64_t> in_flight_;
};

}  // namespace iotgw::coap
