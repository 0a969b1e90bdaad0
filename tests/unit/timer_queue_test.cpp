// The loop's one timer behind every connection's timers, on a real io_context and the real clock:
// order, re-arming, disarming, and owners that go away or arm again while being told.
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "transport/timer_queue.hpp"

namespace iotgw::transport {
namespace {

using namespace std::chrono_literals;

struct Recorded final : TimerQueue::Entry {
  Recorded(std::vector<int>& log, int id) : fired(log), name(id) {}
  std::vector<int>& fired;
  int name;
  std::function<void()> then;  // runs after recording, from inside expired()
  void expired() override {
    fired.push_back(name);
    if (then) then();
  }
};

TimerQueue& queue_of(boost::asio::io_context& loop) {
  return boost::asio::use_service<TimerQueue>(loop);
}

TEST(TimerQueue, EntriesFireOnceInDeadlineOrderWhateverTheOrderArmed) {
  boost::asio::io_context loop(1);
  std::vector<int> fired;
  Recorded a(fired, 1), b(fired, 2), c(fired, 3);
  queue_of(loop).arm(c, 30ms);
  queue_of(loop).arm(a, 10ms);
  queue_of(loop).arm(b, 20ms);
  EXPECT_TRUE(a.armed());
  loop.run();
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(a.armed());
  EXPECT_FALSE(c.armed());
}

TEST(TimerQueue, ArmingAgainReplacesTheDeadlineAndDisarmingStopsIt) {
  boost::asio::io_context loop(1);
  std::vector<int> fired;
  Recorded later(fired, 1), sooner(fired, 2), stopped(fired, 3);
  queue_of(loop).arm(later, 5ms);
  queue_of(loop).arm(later, 40ms);  // pushed back: fires once, after `sooner`
  queue_of(loop).arm(sooner, 60s);
  queue_of(loop).arm(sooner, 20ms);  // brought forward past the loop's current wait
  queue_of(loop).arm(stopped, 10ms);
  queue_of(loop).disarm(stopped);
  loop.run();
  EXPECT_EQ(fired, (std::vector<int>{2, 1}));
}

TEST(TimerQueue, AnEntryDestroyedWhileArmedIsNeverTold) {
  boost::asio::io_context loop(1);
  std::vector<int> fired;
  Recorded kept(fired, 1);
  {
    Recorded gone(fired, 2);
    queue_of(loop).arm(gone, 1ms);
  }
  queue_of(loop).arm(kept, 5ms);
  loop.run();
  EXPECT_EQ(fired, (std::vector<int>{1}));
}

TEST(TimerQueue, AnOwnerMayArmAgainOrDestroyAnotherFromInsideExpired) {
  boost::asio::io_context loop(1);
  std::vector<int> fired;
  Recorded ticking(fired, 1);
  auto victim = std::make_unique<Recorded>(fired, 2);
  int ticks = 0;
  ticking.then = [&] {
    if (++ticks < 3) queue_of(loop).arm(ticking, 0ms);  // for no time at all: no livelock
    victim.reset();
  };
  queue_of(loop).arm(ticking, 1ms);
  queue_of(loop).arm(*victim, 1ms);  // same deadline, after `ticking`: destroyed before its turn
  loop.run();
  EXPECT_EQ(fired, (std::vector<int>{1, 1, 1}));
}

TEST(TimerQueue, TheLastEntryDisarmedLetsTheLoopEnd) {
  // A closed connection's timer must not keep io_context::run going until its deadline (the
  // adapter fuzz harness waited out MQTT's connect timeout for every input).
  boost::asio::io_context loop(1);
  std::vector<int> fired;
  Recorded a(fired, 1), b(fired, 2);
  queue_of(loop).arm(a, 1h);
  queue_of(loop).arm(b, 2h);
  queue_of(loop).disarm(b);
  queue_of(loop).disarm(a);
  const auto started = std::chrono::steady_clock::now();
  loop.run();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1min);  // not the hour
  EXPECT_TRUE(fired.empty());
}

TEST(TimerQueue, ALoopDestroyedFirstLeavesItsEntriesDisarmed) {
  std::vector<int> fired;
  Recorded outlives(fired, 1);
  {
    boost::asio::io_context loop(1);
    queue_of(loop).arm(outlives, 1h);
    EXPECT_TRUE(outlives.armed());
  }
  EXPECT_FALSE(outlives.armed());
  EXPECT_TRUE(fired.empty());
}

}  // namespace
}  // namespace iotgw::transport
