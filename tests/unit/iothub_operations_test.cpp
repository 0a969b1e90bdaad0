// IoT Hub's twin and direct-method topics: what a device's `$iothub/` PUBLISH asks, and the
// topics answers and the hub's requests go out on, in the forms Azure's device SDKs write.
#include <gtest/gtest.h>

#include <limits>

#include "iothub_operations.hpp"

namespace iotgw::mqtt {
namespace {

using Kind = DeviceRequest::Kind;

struct Case {
  std::string topic;
  Kind kind;
  std::string rid;
  int status = 0;
};

TEST(MqttIothubOperations, DevicePublishesAreReadAsTheSdksWriteThem) {
  const std::vector<Case> cases = {
      {"$iothub/twin/GET/?$rid=1", Kind::twin_get, "1"},
      {"$iothub/twin/GET?$rid=1", Kind::twin_get, "1"},  // no slash before the bag
      {"$iothub/twin/GET/?%24rid=7", Kind::twin_get, "7"},
      {"$iothub/twin/GET/?other=x&$rid=8&$rid=9", Kind::twin_get, "8"},
      {"$iothub/twin/PATCH/properties/reported/?$rid=r-2", Kind::reported_patch, "r-2"},
      {"$iothub/twin/PATCH/properties/reported?$rid=3&$version=4", Kind::reported_patch, "3"},
      // Any character but '&', exactly as sent: not decoded, '=', '/' and '?' kept.
      {"$iothub/twin/GET/?$rid=a%20b=c/d?e&x=1", Kind::twin_get, "a%20b=c/d?e"},
      {"$iothub/twin/POST/?$rid=1", Kind::twin_unknown, "1"},
      {"$iothub/twin/PATCH/properties/desired/?$rid=2", Kind::twin_unknown, "2"},
      {"$iothub/twin/res/200/?$rid=3", Kind::twin_unknown, "3"},
      {"$iothub/twin/get/?$rid=4", Kind::twin_unknown, "4"},
      {"$iothub/methods/res/200/?$rid=2a", Kind::method_response, "2a", 200},
      {"$iothub/methods/res/-1?%24rid=ff", Kind::method_response, "ff", -1},
      {"$iothub/methods/res/500/?$rid=0", Kind::method_response, "0", 500},
  };
  for (const auto& c : cases) {
    const auto r = parse_device_request(c.topic);
    ASSERT_TRUE(r) << c.topic;
    EXPECT_EQ(r->kind, c.kind) << c.topic;
    EXPECT_EQ(r->rid, c.rid) << c.topic;
    EXPECT_EQ(r->status, c.status) << c.topic;
  }
}

TEST(MqttIothubOperations, WhatCannotBeAnsweredSaysWhy) {
  for (const std::string topic : {
           "$iothub/twin/GET/",
           "$iothub/twin/GET/?$rid=",
           "$iothub/twin/GET/?rid=1",
           "$iothub/twin/GET/?$rid",
           "$iothub/twin/POST/",
           "$iothub/methods/res/ok/?$rid=1",
           "$iothub/methods/res//?$rid=1",
           "$iothub/methods/res/200/",
           "$iothub/methods/res/200/x/?$rid=1",
           "$iothub/methods/res/99999999999/?$rid=1",
           "$iothub/methods/POST/reboot/?$rid=1",
       }) {
    const auto r = parse_device_request(topic);
    ASSERT_TRUE(r) << topic;
    EXPECT_EQ(r->kind, Kind::unanswerable) << topic;
    EXPECT_FALSE(r->why.empty()) << topic;
  }
}

TEST(MqttIothubOperations, OtherTopicsAreNotOurs) {
  for (const std::string topic :
       {"devices/d1/messages/events/", "$iothub/other/GET/?$rid=1", "$iothub/twinx/GET/?$rid=1",
        "%24iothub/twin/GET/?$rid=1", "sensors/temp", ""}) {
    EXPECT_FALSE(parse_device_request(topic)) << topic;
  }
}

TEST(MqttIothubOperations, OnlyIotHubsOwnFiltersAskTheHub) {
  EXPECT_EQ(hub_filter("$iothub/twin/res/#"), HubFilter::twin_responses);
  EXPECT_EQ(hub_filter("$iothub/twin/PATCH/properties/desired/#"), HubFilter::desired_patches);
  EXPECT_EQ(hub_filter("$iothub/methods/POST/#"), HubFilter::methods);
  for (const std::string filter : {"$iothub/twin/res/+", "$iothub/twin/#", "$iothub/#",
                                   "$iothub/methods/POST/reboot/#", "#"}) {
    EXPECT_EQ(hub_filter(filter), HubFilter::none) << filter;
  }
}

TEST(MqttIothubOperations, ResponseAndNotificationTopicsAreIotHubs) {
  EXPECT_EQ(twin_response_topic(200, "1"), "$iothub/twin/res/200/?$rid=1");
  EXPECT_EQ(twin_response_topic(204, "a%20b", 7), "$iothub/twin/res/204/?$rid=a%20b&$version=7");
  EXPECT_EQ(twin_response_topic(204, "x", 0), "$iothub/twin/res/204/?$rid=x&$version=0");
  EXPECT_EQ(desired_patch_topic(12), "$iothub/twin/PATCH/properties/desired/?$version=12");
  EXPECT_EQ(desired_patch_topic(-1), "$iothub/twin/PATCH/properties/desired/");
}

TEST(MqttIothubOperations, MethodRidsNameTheirCallAndNothingElse) {
  EXPECT_EQ(method_call_topic("reboot", 42), "$iothub/methods/POST/reboot/?$rid=2a");
  EXPECT_EQ(method_call_topic("get-state_v2", 0), "$iothub/methods/POST/get-state_v2/?$rid=0");
  using namespace std::string_literals;
  for (const auto& name : {""s, "a/b"s, "a+b"s, "a#"s, "a?b"s, "a\0b"s}) {
    EXPECT_FALSE(method_call_topic(name, 1)) << name;
  }
  EXPECT_EQ(method_call_of("2a"), 42U);
  const auto max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(method_call_of("ffffffffffffffff"), max);
  for (const std::string rid : {"", "2A", "02a", "0x2a", "-1", "2a ", "g", "10000000000000000"}) {
    EXPECT_FALSE(method_call_of(rid)) << rid;
  }
}

}  // namespace
}  // namespace iotgw::mqtt
