// The adapter's store of sessions that outlive their connection, on a clock the test moves.
#include <gtest/gtest.h>

#include "session_store.hpp"

namespace iotgw::mqtt {
namespace {

using std::chrono::seconds;
const SessionStore::Clock::time_point t0 = SessionStore::Clock::now();

TEST(MqttSessionStore, A311SessionWaitsForACleanSessionHoweverLongItTakes) {
  SessionStore store;
  store.store("dev1", {{"devices/dev1/messages/devicebound/#", 1}}, seconds::max(), t0);
  Filters back;
  EXPECT_TRUE(store.resume("dev1", false, back, t0 + std::chrono::hours(24 * 365)));
  EXPECT_EQ(back, (Filters{{"devices/dev1/messages/devicebound/#", 1}}));
}

TEST(MqttSessionStore, AnMqtt5SessionEndsWithItsExpiryInterval) {
  SessionStore store;
  Filters back;
  store.store("dev1", {{"a/#", 0}}, seconds(60), t0);
  EXPECT_TRUE(store.resume("dev1", false, back, t0 + seconds(59)));
  store.store("dev1", {{"a/#", 0}}, seconds(60), t0);
  EXPECT_FALSE(store.resume("dev1", false, back, t0 + seconds(60)));
  EXPECT_TRUE(back.empty());
  EXPECT_EQ(store.size(), 0U);  // an expired session is dropped when asked for
}

TEST(MqttSessionStore, CleanForgetsAndAResumedSessionIsTakenOut) {
  SessionStore store;
  Filters back;
  store.store("dev1", {{"a/#", 1}}, seconds(600), t0);
  EXPECT_FALSE(store.resume("dev1", true, back, t0));
  EXPECT_FALSE(store.resume("dev1", false, back, t0));
  store.store("dev2", {{"b/#", 1}}, seconds(600), t0);
  EXPECT_TRUE(store.resume("dev2", false, back, t0));
  EXPECT_EQ(store.size(), 0U);
}

TEST(MqttSessionStore, ExpiredSessionsOfDevicesThatNeverCameBackAreSwept) {
  SessionStore store;
  for (int i = 0; i < 1023; ++i) store.store("gone" + std::to_string(i), {}, seconds(1), t0);
  EXPECT_EQ(store.size(), 1023U);
  store.store("late", {}, seconds(600), t0 + seconds(5));  // the 1024th store sweeps
  EXPECT_EQ(store.size(), 1U);
}

}  // namespace
}  // namespace iotgw::mqtt
