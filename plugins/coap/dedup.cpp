#include "dedup.hpp"

#include <algorithm>

namespace iotgw::coap {

void Dedup::expire(Time now) {
  const auto alive = std::find_if(entries_.begin(), entries_.end(),
                                  [&](const Entry& e) { return e.seen + lifetime_ > now; });
  entries_.erase(entries_.begin(), alive);
}

Dedup::Entry* Dedup::lookup(std::uint16_t id) {
  // Newest first: a duplicate is most often a retransmission of a recent message.
  const auto it =
      std::find_if(entries_.rbegin(), entries_.rend(), [id](const Entry& e) { return e.id == id; });
  return it == entries_.rend() ? nullptr : &*it;
}

Dedup::Entry* Dedup::find(std::uint16_t id, Time now) {
  expire(now);
  return lookup(id);
}

Dedup::Entry& Dedup::add(std::uint16_t id, Time now) {
  expire(now);
  if (capacity_ == 0) capacity_ = 1;
  if (entries_.size() >= capacity_) {
    entries_.erase(entries_.begin(),
                   entries_.begin() + static_cast<std::ptrdiff_t>(entries_.size() - capacity_ + 1));
  }
  entries_.push_back(Entry{id, now, State::in_progress, {}});
  return entries_.back();
}

void Dedup::acked(std::uint16_t id, std::vector<std::uint8_t> ack) {
  if (auto* e = lookup(id)) {
    e->state = State::acked;
    e->reply = std::move(ack);
  }
}

void Dedup::answered(std::uint16_t id, std::vector<std::uint8_t> reply) {
  if (auto* e = lookup(id)) {
    e->state = State::answered;
    e->reply = std::move(reply);
  }
}

}  // namespace iotgw::coap
