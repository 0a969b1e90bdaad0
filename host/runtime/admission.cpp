#include "runtime/admission.hpp"

#include <utility>

namespace iotgw::runtime {

std::string Admission::address_of(const std::string& peer) {
  if (!peer.empty() && peer.front() == '[') {
    const auto close = peer.find(']');
    return close == std::string::npos ? peer : peer.substr(1, close - 1);
  }
  const auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

std::shared_ptr<Admission::Ticket> Admission::admit(Clock::time_point now, Refusal& why) {
  why = Refusal::none;
  if (limits_.rate > 0) {
    std::lock_guard lock(mutex_);
    if (!rate_.try_take(1, now)) {
      why = Refusal::rate;
      return nullptr;
    }
  }
  if (pending_.fetch_add(1, std::memory_order_relaxed) >= limits_.pending && limits_.pending > 0) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    why = Refusal::pending;
    return nullptr;
  }
  if (pending_gauge_ != nullptr) pending_gauge_->add(1);
  return std::make_shared<Ticket>(shared_from_this());
}

bool Admission::Ticket::count_address(const std::string& peer) {
  if (gate_->limits_.per_address == 0 || !address_.empty()) return true;
  auto address = address_of(peer);
  std::lock_guard lock(gate_->mutex_);
  auto& held = gate_->per_address_[address];
  if (held >= gate_->limits_.per_address) return false;
  ++held;
  address_ = std::move(address);
  return true;
}

void Admission::Ticket::established() {
  if (!std::exchange(pending_, false)) return;
  gate_->pending_.fetch_sub(1, std::memory_order_relaxed);
  if (gate_->pending_gauge_ != nullptr) gate_->pending_gauge_->add(-1);
}

void Admission::Ticket::release() {
  established();
  if (address_.empty()) return;
  std::lock_guard lock(gate_->mutex_);
  const auto at = gate_->per_address_.find(address_);
  if (at != gate_->per_address_.end() && --at->second == 0) gate_->per_address_.erase(at);
  address_.clear();
}

}  // namespace iotgw::runtime
