// What the bridge makes of a downstream AMQP message's redelivery marks: IoT Hub says it in an
// annotation, AMQP 1.0 brokers in the header (delivery-count, or only first-acquirer, as
// RabbitMQ does). Messages are built with Proton as a hub or broker would send them. And the
// body section the bridge writes upstream.
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/codec/vector.hpp>
#include <proton/message.hpp>
#include <proton/symbol.hpp>
#include <proton/timestamp.hpp>

#include "bridge/message_codec.hpp"
#include "iotgw/common/amqp_text.hpp"
#include "runtime/message.hpp"

namespace iotgw::bridge {
namespace {

proton::message with_header(std::uint32_t delivery_count, bool first_acquirer) {
  proton::message m("payload");
  m.delivery_count(delivery_count);
  m.first_acquirer(first_acquirer);
  return m;
}

void annotate(proton::message& m, const proton::value& count) {
  m.message_annotations().put(proton::annotation_key(proton::symbol("iothub-deliverycount")),
                              count);
}

TEST(EarlierDeliveries, AFirstDeliveryCountsNone) {
  EXPECT_EQ(earlier_deliveries(with_header(0, true), true), 0U);
  EXPECT_EQ(earlier_deliveries(with_header(0, true), false), 0U);
}

TEST(EarlierDeliveries, TheHeadersDeliveryCountIsTakenFromAnyHub) {
  EXPECT_EQ(earlier_deliveries(with_header(3, false), true), 3U);
  EXPECT_EQ(earlier_deliveries(with_header(3, false), false), 3U);
}

TEST(EarlierDeliveries, NotTheFirstAcquirerIsARedeliveryOnlyFromAGenericBroker) {
  // RabbitMQ: first-acquirer false and no count. IoT Hub leaves the header at its defaults
  // (first-acquirer false), so there it means nothing.
  EXPECT_EQ(earlier_deliveries(with_header(0, false), true), 1U);
  EXPECT_EQ(earlier_deliveries(proton::message("no header"), false), 0U);
}

TEST(EarlierDeliveries, IotHubsAnnotationCountsWhateverItsType) {
  auto m = with_header(0, false);
  annotate(m, std::int32_t{2});
  EXPECT_EQ(earlier_deliveries(m, false), 2U);
  annotate(m, std::int64_t{5});
  EXPECT_EQ(earlier_deliveries(m, false), 5U);
  annotate(m, std::uint8_t{0});
  EXPECT_EQ(earlier_deliveries(m, false), 0U);
}

TEST(EarlierDeliveries, AnUnreadableAnnotationLeavesTheHeadersWord) {
  auto m = with_header(1, true);
  annotate(m, std::string("many"));
  EXPECT_EQ(earlier_deliveries(m, false), 1U);
  annotate(m, std::int32_t{-4});
  EXPECT_EQ(earlier_deliveries(m, false), 1U);
}

// Telemetry goes up with its body in a data section, as device SDKs send it: an amqp-value
// section is no body at all to Azure's Node consumers (AmqpMessage.toMessage reads
// body.content), so telemetry through iotgw reached them empty.
TEST(ToAmqp, TheBodyGoesInADataSection) {
  iotgw_msg msg;
  const std::string text = R"({"temperature":21.5})";
  msg.body.assign(text.begin(), text.end());
  proton::message m;
  to_amqp(msg, m);
  std::vector<char> wire;
  m.encode(wire);
  const std::string data_section{'\x00', '\x53', '\x75'};  // described type 0x75: data
  EXPECT_NE(std::string(wire.begin(), wire.end()).find(data_section), std::string::npos);
  proton::message back;
  back.decode(wire);
  EXPECT_TRUE(back.inferred());
  EXPECT_EQ(amqp_text(back.body()), text);
}

// A device's `$.exp` (ISO 8601, as Azure's device SDKs write it) goes up as the AMQP
// absolute-expiry-time, and a C2D message's comes down as ISO 8601 for the MQTT adapter's `$.exp`.
TEST(ToAmqp, TheExpiryGoesUpAsAnAmqpTimestamp) {
  const std::int64_t at = 1796079484000;  // 2026-11-30T22:58:04Z
  for (const char* text :
       {"2026-11-30T22:58:04.000Z", "2026-11-30T22:58:04Z", "2026-11-30T22:58:04.0000000Z",
        "2026-11-30T22:58:04+00:00", "1796079484000"}) {
    iotgw_msg msg;
    msg.scope(IOTGW_PROP_SYSTEM).set("absolute-expiry-time", text);
    proton::message m;
    to_amqp(msg, m);
    EXPECT_EQ(m.expiry_time().milliseconds(), at) << text;
  }
  for (const char* text :
       {"tomorrow", "2026-11-30", "2026-11-30T22:58:04+02:00", "2026-13-30T22:58:04Z"}) {
    iotgw_msg msg;
    msg.scope(IOTGW_PROP_SYSTEM).set("absolute-expiry-time", text);
    proton::message m;
    to_amqp(msg, m);
    EXPECT_EQ(m.expiry_time().milliseconds(), 0) << text;  // unreadable: left out
  }
}

TEST(FromAmqp, TheExpiryComesDownAsIso8601) {
  proton::message m("payload");
  m.expiry_time(proton::timestamp(1796079484042));
  const auto msg = from_amqp(m, "dev1");
  const auto* v = msg.scope(IOTGW_PROP_SYSTEM).get("absolute-expiry-time");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, "2026-11-30T22:58:04.042Z");
  EXPECT_EQ(from_amqp(proton::message("no expiry"), "dev1")
                .scope(IOTGW_PROP_SYSTEM)
                .get("absolute-expiry-time"),
            nullptr);
}

// Properties and annotations are read in place, not as proton::values: the text each type
// comes down as must stay what amqp_text (and, for keys, Proton's printing) made of it.
TEST(FromAmqp, EveryTypeOfPropertyComesDownAsItsTextAsBefore) {
  const std::vector<std::pair<std::string, proton::value>> values = {
      {"string", std::string("text")},
      {"symbol", proton::symbol("sym")},
      {"binary", proton::binary(std::string("bytes"))},
      {"bool", true},
      {"ubyte", std::uint8_t{200}},
      {"byte", std::int8_t{-5}},
      {"ushort", std::uint16_t{60000}},
      {"short", std::int16_t{-300}},
      {"uint", std::uint32_t{4000000000U}},
      {"int", std::int32_t{-7}},
      {"ulong", std::uint64_t{18000000000000000000ULL}},
      {"long", std::int64_t{-9000000000LL}},
      {"timestamp", proton::timestamp(1796079484042)},
      {"float", 1.5F},
      {"double", -2.25},
      {"list", std::vector<proton::value>{std::int32_t{1}, std::string("two")}},
      {"null", proton::value()},
  };
  // Annotations of any value type; application properties of the scalar ones, all that
  // Proton lets a sender put there.
  std::vector<std::pair<proton::value, proton::value>> app, ann;
  for (const auto& [key, v] : values) {
    if (proton::type_id_is_scalar(v.type())) app.emplace_back(key, v);
    ann.emplace_back(proton::symbol(key), v);
  }
  proton::message m("payload");
  m.properties().value(app);
  m.message_annotations().value(ann);
  const auto msg = from_amqp(m, "dev1");
  for (const auto& [key, v] : values) {
    SCOPED_TRACE(key);
    const auto* n = msg.scope(IOTGW_PROP_ANNOTATION).get(key);
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(*n, amqp_text(v));
    if (!proton::type_id_is_scalar(v.type())) continue;
    const auto* a = msg.scope(IOTGW_PROP_APPLICATION).get(key);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(*a, amqp_text(v));
  }
}

TEST(FromAmqp, KeysOfOtherTypesArePrintedAndTheRestOfTheSectionStays) {
  proton::message m("payload");
  m.message_annotations().put(proton::annotation_key(std::uint64_t{42}), std::string("by number"));
  m.message_annotations().put(proton::annotation_key(proton::symbol("name")), std::string("x"));
  const auto msg = from_amqp(m, "dev1");
  const auto& ann = msg.scope(IOTGW_PROP_ANNOTATION);
  ASSERT_NE(ann.get("42"), nullptr);
  EXPECT_EQ(*ann.get("42"), "by number");
  ASSERT_NE(ann.get("name"), nullptr);
  EXPECT_EQ(*ann.get("name"), "x");
}

TEST(FromHub, TheMessageAndItsEarlierDeliveriesInOnePass) {
  auto m = with_header(1, false);
  annotate(m, std::int64_t{4});
  m.properties().put("k", std::string("v"));
  const auto from = from_hub(m, "dev1", false);
  EXPECT_EQ(from.earlier_deliveries, 4U);
  EXPECT_EQ(from.earlier_deliveries, earlier_deliveries(m, false));
  EXPECT_EQ(*from.msg.scope(IOTGW_PROP_ANNOTATION).get("iothub-deliverycount"), "4");
  EXPECT_EQ(*from.msg.scope(IOTGW_PROP_APPLICATION).get("k"), "v");
  // A generic broker's redelivery mark, with no annotation.
  EXPECT_EQ(from_hub(with_header(0, false), "dev1", true).earlier_deliveries, 1U);
  EXPECT_EQ(from_hub(with_header(0, false), "dev1", false).earlier_deliveries, 0U);
}

}  // namespace
}  // namespace iotgw::bridge
