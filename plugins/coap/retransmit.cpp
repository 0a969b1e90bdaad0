#include "retransmit.hpp"

#include <algorithm>

namespace iotgw::coap {

std::chrono::milliseconds Backoff::initial(double random) const {
  const double spread = (random_factor - 1.0) * std::clamp(random, 0.0, 1.0);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(ack_timeout.count()) * (1.0 + spread)));
}

void Outbox::push(std::uint16_t id, std::vector<std::uint8_t> datagram, Tag tag) {
  waiting_.push_back(Con{id, std::move(datagram), tag});
}

std::optional<Tag> Outbox::settle(std::uint16_t id) {
  const auto it =
      std::find_if(flight_.begin(), flight_.end(), [id](const Con& c) { return c.id == id; });
  if (it == flight_.end()) return std::nullopt;
  const auto tag = it->tag;
  flight_.erase(it);
  return tag;
}

Outbox::Due Outbox::due(Time now) {
  Due d;
  for (auto it = flight_.begin(); it != flight_.end();) {
    if (it->deadline > now) {
      ++it;
      continue;
    }
    if (it->retransmits >= backoff_.max_retransmit) {
      d.abandoned.push_back(it->tag);
      it = flight_.erase(it);
      continue;
    }
    ++it->retransmits;
    it->timeout *= 2;
    it->deadline = now + it->timeout;
    d.resend.push_back(it->datagram);
    ++it;
  }
  return d;
}

std::optional<Time> Outbox::next_deadline() const {
  std::optional<Time> next;
  for (const auto& c : flight_) {
    if (!next || c.deadline < *next) next = c.deadline;
  }
  return next;
}

}  // namespace iotgw::coap
