#include "transport/buffer_budget.hpp"

#include <utility>

#include <boost/asio/post.hpp>

#include "transport/connection.hpp"

namespace iotgw::transport {

BufferBudget::BufferBudget(metrics::Gauge* bytes, metrics::Gauge* waiting, metrics::Counter* pauses)
    : bytes_(bytes), waiting_gauge_(waiting), pauses_(pauses) {}

void BufferBudget::set_cap(std::size_t cap) {
  cap_.store(cap, std::memory_order_relaxed);
  // A larger cap (or none) may free connections that wait now.
  if (anyone_waiting_.load(std::memory_order_acquire) && under_low_mark()) release_waiters();
}

void BufferBudget::add(std::int64_t delta) {
  if (delta == 0) return;
  used_.fetch_add(delta, std::memory_order_relaxed);
  if (bytes_ != nullptr) bytes_->add(delta);
  if (delta < 0 && anyone_waiting_.load(std::memory_order_acquire) && under_low_mark()) {
    release_waiters();
  }
}

bool BufferBudget::wait(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(mutex_);
  // Checked again under the lock: a release that ran between the caller's over() and now would
  // otherwise leave this connection parked with nobody left to wake it.
  if (under_low_mark()) return false;
  waiting_.push_back(conn);
  anyone_waiting_.store(true, std::memory_order_release);
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
    anyone_waiting_.store(false, std::memory_order_release);
  }
  if (waiting_gauge_ != nullptr) waiting_gauge_->add(-static_cast<std::int64_t>(woken.size()));
  for (auto& weak : woken) {
    auto conn = weak.lock();
    if (!conn) continue;
    // Each on its own loop, where everything about a connection happens.
    boost::asio::post(conn->loop(), [conn] { conn->resume_reading(Connection::Hold::memory); });
  }
}

}  // namespace iotgw::transport
