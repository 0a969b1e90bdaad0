// The token buckets behind max_connection_rate and the per-device rate limits, on a clock the
// test moves.
#include <chrono>

#include <gtest/gtest.h>

#include "runtime/device_rate.hpp"
#include "runtime/token_bucket.hpp"

namespace iotgw::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

TEST(TokenBucket, StartsFullThenRefillsAtItsRateUpToItsBurst) {
  TokenBucket b(10, 10);
  const Clock::time_point t0{};
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.try_take(1, t0)) << i;
  EXPECT_FALSE(b.try_take(1, t0));
  EXPECT_FALSE(b.try_take(1, t0 + 90ms));
  EXPECT_TRUE(b.try_take(1, t0 + 110ms));
  // An hour idle fills it to its burst, no further.
  const auto later = t0 + 1h;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(b.try_take(1, later)) << i;
  EXPECT_FALSE(b.try_take(1, later));
}

TEST(TokenBucket, TakingPastEmptyIsADebtThatTimeRepays) {
  TokenBucket b(1000, 1000);
  const Clock::time_point t0{};
  EXPECT_EQ(b.take(1000, t0), Clock::duration::zero());
  EXPECT_EQ(b.take(500, t0), std::chrono::duration_cast<Clock::duration>(500ms));
  EXPECT_EQ(b.debt(t0 + 200ms), std::chrono::duration_cast<Clock::duration>(300ms));
  EXPECT_EQ(b.debt(t0 + 500ms), Clock::duration::zero());
}

TEST(DeviceRate, TheSlowerOfMessagesAndBytesDecides) {
  DeviceRate rate({.messages = 100, .bytes = 1000});
  const Clock::time_point t0{};
  // Ten messages of 100 bytes: the byte bucket is empty, the message bucket far from it.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(rate.sent(100, t0), Clock::duration::zero()) << i;
  EXPECT_EQ(rate.sent(100, t0), std::chrono::duration_cast<Clock::duration>(100ms));
  EXPECT_GT(rate.wait(t0 + 50ms), Clock::duration::zero());
  EXPECT_EQ(rate.wait(t0 + 100ms), Clock::duration::zero());
}

TEST(DeviceRate, AMessageLargerThanASecondsBytesGoesAndIsWaitedOff) {
  DeviceRate rate({.bytes = 1000});
  const Clock::time_point t0{};
  EXPECT_EQ(rate.sent(3000, t0), std::chrono::duration_cast<Clock::duration>(2s));
}

TEST(DeviceRate, MessagesAloneAreCountedWhenNoByteRateIsSet) {
  DeviceRate rate({.messages = 2});
  const Clock::time_point t0{};
  EXPECT_EQ(rate.sent(1'000'000, t0), Clock::duration::zero());
  EXPECT_EQ(rate.sent(1'000'000, t0), Clock::duration::zero());
  EXPECT_EQ(rate.sent(1, t0), std::chrono::duration_cast<Clock::duration>(500ms));
}

}  // namespace
}  // namespace iotgw::runtime
