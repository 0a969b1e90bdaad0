// What the bridge makes of a downstream AMQP message's redelivery marks: IoT Hub says it in an
// annotation, AMQP 1.0 brokers in the header (delivery-count, or only first-acquirer, as
// RabbitMQ does). Messages are built with Proton as a hub or broker would send them.
#include <gtest/gtest.h>

#include <proton/annotation_key.hpp>
#include <proton/message.hpp>
#include <proton/symbol.hpp>

#include "bridge/message_codec.hpp"

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

}  // namespace
}  // namespace iotgw::bridge
