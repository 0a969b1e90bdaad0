#include "exchanges.hpp"

namespace iotgw::bench::coap {

const Exchange& Exchanges::open(std::int64_t now_ns) {
  while (open_.count(message_id(next_seq_)) != 0) ++next_seq_;
  const auto seq = next_seq_++;
  std::uniform_real_distribution<double> jitter(1.0, kAckRandomFactor);
  const auto timeout =
      static_cast<std::int64_t>(static_cast<double>(kAckTimeoutNs) * jitter(random_));
  auto& e = open_[message_id(seq)];
  e = Exchange{.seq = seq, .sent_ns = now_ns, .due_ns = now_ns + timeout, .timeout_ns = timeout};
  return e;
}

Exchange* Exchanges::by_id(std::uint16_t id) {
  const auto it = open_.find(id);
  return it == open_.end() ? nullptr : &it->second;
}

Exchange* Exchanges::by_token(std::uint32_t seq) {
  auto* e = by_id(message_id(seq));
  return e != nullptr && e->seq == seq ? e : nullptr;
}

}  // namespace iotgw::bench::coap
