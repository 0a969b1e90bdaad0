#include <gtest/gtest.h>

#include <string>

#include "iotgw/common/repeat_limiter.hpp"

namespace iotgw {
namespace {

using std::chrono::seconds;
using TimePoint = RepeatLimiter::TimePoint;

// Feeds `n` lines of one message at `now`; returns how many were admitted.
int feed(RepeatLimiter& limiter, const std::string& component, const std::string& message, int n,
         TimePoint now, std::vector<SuppressedLines>& ended) {
  int admitted = 0;
  for (int i = 0; i < n; ++i) {
    if (limiter.admit(RepeatLimiter::kind_of(component, message), 3, component, message, now,
                      ended)) {
      ++admitted;
    }
  }
  return admitted;
}

TEST(RepeatLimiter, MessagesThatDifferOnlyInNumbersAreOneKind) {
  EXPECT_EQ(RepeatLimiter::kind_of("listener mqtt", "127.0.0.1:40001: malformed packet"),
            RepeatLimiter::kind_of("listener mqtt", "127.0.0.1:51234: malformed packet"));
  EXPECT_NE(RepeatLimiter::kind_of("listener mqtt", "dev1: malformed packet"),
            RepeatLimiter::kind_of("listener mqtt", "dev1: not authorised"));
  EXPECT_NE(RepeatLimiter::kind_of("listener a", "malformed packet"),
            RepeatLimiter::kind_of("listener b", "malformed packet"));
  EXPECT_NE(RepeatLimiter::kind_of("ab", "c"), RepeatLimiter::kind_of("a", "bc"));
}

TEST(RepeatLimiter, AFloodWritesTheBoundThenCountsTheRestAndReportsThemWhenTheWindowEnds) {
  RepeatLimiter limiter({.lines = 10, .window = seconds(5), .max_kinds = 100});
  const TimePoint t0{};
  std::vector<SuppressedLines> ended;
  for (int i = 0; i < 200; ++i) {
    const std::string msg = "127.0.0.1:" + std::to_string(40000 + i) + ": malformed packet";
    feed(limiter, "listener mqtt", msg, 1, t0 + std::chrono::milliseconds(i), ended);
  }
  EXPECT_TRUE(ended.empty());  // the window has not ended yet
  // The next line of any kind after the window reports it.
  EXPECT_EQ(feed(limiter, "gateway", "something else", 1, t0 + seconds(6), ended), 1);
  ASSERT_EQ(ended.size(), 1U);
  EXPECT_EQ(ended[0].count, 190U);
  EXPECT_EQ(ended[0].component, "listener mqtt");
  EXPECT_EQ(ended[0].sample, "127.0.0.1:40000: malformed packet");
  EXPECT_EQ(ended[0].level, 3);
  // A new window admits the bound again.
  ended.clear();
  EXPECT_EQ(
      feed(limiter, "listener mqtt", "127.0.0.1:1: malformed packet", 12, t0 + seconds(7), ended),
      10);
}

TEST(RepeatLimiter, DifferentKindsHaveTheirOwnBound) {
  RepeatLimiter limiter({.lines = 3, .window = seconds(5), .max_kinds = 100});
  std::vector<SuppressedLines> ended;
  EXPECT_EQ(feed(limiter, "c", "dev1 refused", 5, TimePoint{}, ended), 3);
  EXPECT_EQ(feed(limiter, "c", "bob refused", 5, TimePoint{}, ended), 3);
}

TEST(RepeatLimiter, AWindowWithNothingHeldBackEndsSilently) {
  RepeatLimiter limiter({.lines = 3, .window = seconds(5), .max_kinds = 100});
  std::vector<SuppressedLines> ended;
  EXPECT_EQ(feed(limiter, "c", "m", 3, TimePoint{}, ended), 3);
  EXPECT_EQ(feed(limiter, "c", "m", 3, TimePoint{} + seconds(5), ended), 3);
  EXPECT_TRUE(ended.empty());
}

TEST(RepeatLimiter, DrainReportsWindowsStillOpen) {
  RepeatLimiter limiter({.lines = 1, .window = seconds(5), .max_kinds = 100});
  std::vector<SuppressedLines> ended;
  feed(limiter, "a", "x", 4, TimePoint{}, ended);
  feed(limiter, "b", "y", 1, TimePoint{}, ended);
  const auto held = limiter.drain();
  ASSERT_EQ(held.size(), 1U);
  EXPECT_EQ(held[0].component, "a");
  EXPECT_EQ(held[0].count, 3U);
  EXPECT_TRUE(limiter.drain().empty());
}

TEST(RepeatLimiter, KindsBeyondTheTableAreNotLimited) {
  RepeatLimiter limiter({.lines = 1, .window = seconds(5), .max_kinds = 2});
  std::vector<SuppressedLines> ended;
  feed(limiter, "a", "x", 1, TimePoint{}, ended);
  feed(limiter, "b", "x", 1, TimePoint{}, ended);
  EXPECT_EQ(feed(limiter, "c", "x", 5, TimePoint{}, ended), 5);
}

TEST(RepeatLimiter, ZeroLinesTurnsItOff) {
  RepeatLimiter limiter({.lines = 0, .window = seconds(5), .max_kinds = 2});
  std::vector<SuppressedLines> ended;
  EXPECT_EQ(feed(limiter, "a", "x", 50, TimePoint{}, ended), 50);
}

}  // namespace
}  // namespace iotgw
