// The confirmable requests of one CoAP client that await their answer, and when each is due
// again (RFC 7252 4.2, 4.8). Sans-I/O, time passed in: the client sends what poll() says, so the
// backoff can be read (and checked) without a socket.
#pragma once

#include <cstdint>
#include <random>
#include <unordered_map>

namespace iotgw::bench::coap {

// RFC 7252 4.8's defaults: the first timeout is ACK_TIMEOUT x [1, ACK_RANDOM_FACTOR], doubled on
// each of MAX_RETRANSMIT retransmissions.
inline constexpr std::int64_t kAckTimeoutNs = 2'000'000'000;
inline constexpr double kAckRandomFactor = 1.5;
inline constexpr int kMaxRetransmit = 4;

struct Exchange {
  // The exchange's number: its message id is the low 16 bits, its token the 4 bytes big-endian.
  std::uint32_t seq = 0;
  std::int64_t sent_ns = 0;  // first transmission: where latency starts, and the payload's stamp
  std::int64_t due_ns = 0;   // the next retransmission
  std::int64_t timeout_ns = 0;
  int retransmissions = 0;
  // An empty ACK came: the server has it and answers separately, so it is not sent again.
  bool acknowledged = false;
};

inline std::uint16_t message_id(std::uint32_t seq) {
  return static_cast<std::uint16_t>(seq & 0xFFFF);
}

class Exchanges {
 public:
  // `seed` picks the first message id (a random one, as 4.4 asks) and the timeouts' jitter.
  explicit Exchanges(std::uint32_t seed) : next_seq_(seed), random_(seed) {}

  // A new exchange sent at `now_ns`, numbered so that its message id is not outstanding.
  const Exchange& open(std::int64_t now_ns);
  Exchange* by_id(std::uint16_t id);
  Exchange* by_token(std::uint32_t seq);
  void close(std::uint16_t id) { open_.erase(id); }
  std::size_t size() const { return open_.size(); }

  // For each exchange whose timeout has passed: `resend(exchange)` with the next timeout doubled,
  // or, after kMaxRetransmit retransmissions, `give_up(exchange)` and it is closed.
  template <typename Resend, typename GiveUp>
  void poll(std::int64_t now_ns, Resend&& resend, GiveUp&& give_up) {
    for (auto it = open_.begin(); it != open_.end();) {
      auto& e = it->second;
      if (e.acknowledged || now_ns < e.due_ns) {
        ++it;
      } else if (e.retransmissions == kMaxRetransmit) {
        give_up(e);
        it = open_.erase(it);
      } else {
        ++e.retransmissions;
        e.timeout_ns *= 2;
        e.due_ns = now_ns + e.timeout_ns;
        resend(e);
        ++it;
      }
    }
  }

  // Every open exchange, to be counted as lost when the client stops.
  template <typename F>
  void drain(F&& f) {
    for (auto& [id, e] : open_) f(e);
    open_.clear();
  }

 private:
  std::unordered_map<std::uint16_t, Exchange> open_;
  std::uint32_t next_seq_;
  std::minstd_rand random_;
};

}  // namespace iotgw::bench::coap
