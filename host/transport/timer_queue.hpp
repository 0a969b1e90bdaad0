// Every connection timer of one event loop, behind a single Asio timer. An Asio timer per
// connection costs an idle device some 250 bytes (the timer, its pending wait operation and the
// allocations around them); an entry here lives inside its owner and allocates nothing.
#pragma once

#include <chrono>
#include <cstdint>

#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/set.hpp>

namespace iotgw::transport {

// An Asio service: one per io_context (boost::asio::use_service<TimerQueue>(loop)), gone with
// it. Used only on its loop's thread, like everything else on that loop.
class TimerQueue final : public boost::asio::execution_context::service {
 public:
  using Clock = std::chrono::steady_clock;
  using Hook =
      boost::intrusive::set_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>,
                                      boost::intrusive::optimize_size<true>>;

  // One timer, held by its owner. Destroying it disarms it.
  class Entry : public Hook {
   public:
    Entry() = default;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

    bool armed() const { return is_linked(); }

   protected:
    virtual ~Entry() = default;

   private:
    friend class TimerQueue;
    // Called on the loop once the deadline passed, the entry already disarmed. It may arm the
    // entry again, or destroy its owner.
    virtual void expired() = 0;
    Clock::time_point deadline_{};
    friend bool operator<(const Entry& a, const Entry& b) { return a.deadline_ < b.deadline_; }
  };

  static boost::asio::execution_context::id id;

  explicit TimerQueue(boost::asio::io_context& loop);
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Arms `entry` for `after` from now, replacing what it was armed for.
  void arm(Entry& entry, std::chrono::milliseconds after);
  // Disarms `entry`. The last one out cancels the loop's wait: a pending wait is work, and
  // io_context::run would otherwise not return until it ended.
  void disarm(Entry& entry);

 private:
  void shutdown() override;
  void wait_for_first();
  void run_due();

  using Entries = boost::intrusive::multiset<Entry, boost::intrusive::constant_time_size<false>>;
  Entries entries_;
  boost::asio::steady_timer timer_;
  bool waiting_ = false;  // a wait is pending, for armed_for_
  Clock::time_point armed_for_{};
  std::uint64_t generation_ = 0;  // a wait replaced by a sooner one is ignored when it ends
};

}  // namespace iotgw::transport
