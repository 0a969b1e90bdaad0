#include "transport/buffer_budget.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>

#include "transport/connection.hpp"

namespace iotgw::transport {

BufferBudget::BufferBudget(metrics::Gauge* bytes, metrics::Gauge* waiting, metrics::Counter* pauses)
    : bytes_(bytes), waiting_gauge_(waiting), pauses_(pauses) {}

void BufferBudget::set_cap(std::size_t cap) {
  cap_.store(cap);
  // A larger cap (or none) may free connections that wait now.
  if (anyone_waiting_.load() && under_low_mark()) release_waiters();
}

void BufferBudget::add(std::int64_t delta) {
  if (delta == 0) return;
  // Sequentially consistent with wait(): either this sees the waiter's flag, or the waiter
  // sees this total, so no connection parks after the last release it could have had.
  used_.fetch_add(delta);
  if (bytes_ != nullptr) bytes_->add(delta);
  if (delta < 0 && anyone_waiting_.load() && under_low_mark()) release_waiters();
}

bool BufferBudget::wait(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(mutex_);
  // The flag first, then the total (see add): a release that ran between the caller's over()
  // and now would otherwise leave this connection parked with nobody left to wake it.
  anyone_waiting_.store(true);
  if (under_low_mark()) {
    anyone_waiting_.store(!waiting_.empty());
    return false;
  }
  // Connections that closed while waiting go at the next doubling: the list stays bounded by
  // the connections open, and an ended connection's memory is not held by its weak_ptr.
  if (waiting_.size() >= prune_at_) {
    const auto before = waiting_.size();
    std::erase_if(waiting_, [](const auto& w) { return w.expired(); });
    if (waiting_gauge_ != nullptr) {
      waiting_gauge_->add(-static_cast<std::int64_t>(before - waiting_.size()));
    }
    prune_at_ = std::max<std::size_t>(64, 2 * waiting_.size());
  }
  waiting_.push_back(conn);
  if (waiting_gauge_ != nullptr) waiting_gauge_->add(1);
  if (pauses_ != nullptr) pauses_->inc();
  return true;
}

void BufferBudget::release_waiters() {
  std::vector<std::weak_ptr<Connection>> woken;
  {
    std::lock_guard lock(mutex_);
    if (!under_low_mark()) return;
    woken.swap(waiting_);
    anyone_waiting_.store(false);
  }
  if (waiting_gauge_ != nullptr) waiting_gauge_->add(-static_cast<std::int64_t>(woken.size()));
  for (auto& weak : woken) {
    auto conn = weak.lock();
    if (!conn) continue;
    // Each on its own loop, where everything about a connection happens, and moved there: the
    // last owner may be this reference, and a connection ends on its own loop too.
    auto& loop = conn->loop();
    boost::asio::post(loop, [c = std::move(conn)] { c->resume_reading(Connection::Hold::memory); });
  }
}

}  // namespace iotgw::transport
