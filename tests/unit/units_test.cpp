#include <gtest/gtest.h>

#include "iotgw/common/units.hpp"

namespace iotgw {
namespace {

TEST(Units, Durations) {
  EXPECT_EQ(parse_duration("250ms")->count(), 250);
  EXPECT_EQ(parse_duration("30s")->count(), 30'000);
  EXPECT_EQ(parse_duration("5m")->count(), 300'000);
  EXPECT_EQ(parse_duration("2h")->count(), 7'200'000);
  EXPECT_EQ(parse_duration("1500")->count(), 1500);
  EXPECT_FALSE(parse_duration("10 parsecs"));
  EXPECT_FALSE(parse_duration("-5s"));
  EXPECT_FALSE(parse_duration("s"));
  EXPECT_FALSE(parse_duration("99999999999999999999d"));
}

TEST(Units, Sizes) {
  EXPECT_EQ(*parse_size("512"), 512U);
  EXPECT_EQ(*parse_size("64KB"), 65536U);
  EXPECT_EQ(*parse_size("64KiB"), 65536U);
  EXPECT_EQ(*parse_size("1MiB"), 1048576U);
  EXPECT_FALSE(parse_size("big"));
  EXPECT_FALSE(parse_size("1TB"));
  EXPECT_FALSE(parse_size("18446744073709551615GB"));
}

TEST(Units, ScalarsAndJoin) {
  EXPECT_EQ(*parse_int("-42"), -42);
  EXPECT_FALSE(parse_int("4x"));
  EXPECT_FALSE(parse_int(""));
  EXPECT_TRUE(*parse_bool("yes"));
  EXPECT_FALSE(*parse_bool("off"));
  EXPECT_FALSE(parse_bool("maybe"));
  EXPECT_DOUBLE_EQ(*parse_double("2.5"), 2.5);
  EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
}

}  // namespace
}  // namespace iotgw
