#include "transport/timer_queue.hpp"

namespace iotgw::transport {

boost::asio::execution_context::id TimerQueue::id;

TimerQueue::TimerQueue(boost::asio::io_context& loop)
    : boost::asio::execution_context::service(loop), timer_(loop) {}

void TimerQueue::shutdown() {
  // Owners that outlive the loop must find their entries unlinked, not pointing in here.
  entries_.clear();
  timer_.cancel();
}

void TimerQueue::arm(Entry& entry, std::chrono::milliseconds after) {
  entry.unlink();
  entry.deadline_ = Clock::now() + after;
  entries_.insert(entry);
  wait_for_first();
}

void TimerQueue::disarm(Entry& entry) {
  entry.unlink();
  if (entries_.empty() && waiting_) {
    waiting_ = false;
    ++generation_;
    timer_.cancel();
  }
}

void TimerQueue::wait_for_first() {
  if (entries_.empty()) return;
  const auto first = entries_.begin()->deadline_;
  if (waiting_ && armed_for_ <= first) return;
  waiting_ = true;
  armed_for_ = first;
  timer_.expires_at(first);
  timer_.async_wait([this, generation = ++generation_](const boost::system::error_code&) {
    // Cancelled or replaced by a sooner wait: that one runs the queue.
    if (generation != generation_) return;
    waiting_ = false;
    run_due();
  });
}

void TimerQueue::run_due() {
  const auto now = Clock::now();
  // A batch per turn: a keep-alive storm does not starve the loop's reads, and an entry armed
  // again for no time at all while firing cannot hold it.
  constexpr int kBatch = 512;
  for (int fired = 0; fired < kBatch && !entries_.empty(); ++fired) {
    auto& first = *entries_.begin();
    if (first.deadline_ > now) break;
    first.unlink();
    first.expired();  // may destroy it
  }
  wait_for_first();
}

}  // namespace iotgw::transport
