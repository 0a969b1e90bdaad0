// The MQTT 5 side of the codec: every packet with every property it may carry survives encode
// then decode, and each way a device can get MQTT 5's properties, variable byte integers and
// subscription options wrong is refused with its reason and the right kind (malformed, 0x81, or
// protocol error, 0x82).
#include <gtest/gtest.h>

#include "codec/codec.hpp"

namespace iotgw::mqtt {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr auto kV5 = ProtocolLevel::v5;

Bytes encoded(const Packet& p) {
  Bytes out;
  encode(p, out, kV5);
  return out;
}

Packet decoded(const Bytes& bytes) {
  Packet p;
  std::size_t used = 0;
  std::string error;
  EXPECT_EQ(decode(bytes, {.max_packet = 1 << 20, .level = kV5}, p, used, error), Decoded::packet)
      << error;
  EXPECT_EQ(used, bytes.size());
  return p;
}

template <typename T>
T round_trip(const T& packet) {
  return std::get<T>(decoded(encoded(packet)));
}

TEST(Mqtt5Codec, ConnectWithEveryPropertyAndAWillRoundTrips) {
  Connect c;
  c.level = 5;
  c.client_id = "dev1";
  c.clean_session = false;
  c.keep_alive = 30;
  c.props.session_expiry = 3600;
  c.props.receive_maximum = 20;
  c.props.maximum_packet_size = 4096;
  c.props.topic_alias_maximum = 5;
  c.props.request_response_info = 1;
  c.props.request_problem_info = 0;
  c.props.auth_method = "SCRAM";
  c.props.auth_data = std::string("\0\1", 2);
  c.props.user = {{"a", "1"}, {"a", "2"}};
  Will w{"devices/dev1/messages/events/", "gone", 1, false, {}};
  w.props.will_delay = 10;
  w.props.payload_format = 1;
  w.props.message_expiry = 60;
  w.props.content_type = "text/plain";
  w.props.response_topic = "r/t";
  w.props.correlation_data = "cid";
  w.props.user = {{"k", "v"}};
  c.will = w;
  c.password = "secret";  // MQTT 5 allows a password without a user name
  const auto back = round_trip(c);
  EXPECT_EQ(back.level, 5);
  EXPECT_FALSE(back.clean_session);
  EXPECT_EQ(back.props.session_expiry, 3600U);
  EXPECT_EQ(back.props.receive_maximum, 20);
  EXPECT_EQ(back.props.maximum_packet_size, 4096U);
  EXPECT_EQ(back.props.topic_alias_maximum, 5);
  EXPECT_EQ(back.props.request_response_info, 1);
  EXPECT_EQ(back.props.request_problem_info, 0);
  EXPECT_EQ(back.props.auth_method, "SCRAM");
  EXPECT_EQ(back.props.auth_data, std::string("\0\1", 2));
  EXPECT_EQ(back.props.user, c.props.user);
  ASSERT_TRUE(back.will);
  EXPECT_EQ(back.will->props.will_delay, 10U);
  EXPECT_EQ(back.will->props.payload_format, 1);
  EXPECT_EQ(back.will->props.message_expiry, 60U);
  EXPECT_EQ(back.will->props.content_type, "text/plain");
  EXPECT_EQ(back.will->props.response_topic, "r/t");
  EXPECT_EQ(back.will->props.correlation_data, "cid");
  EXPECT_EQ(back.will->props.user, w.props.user);
  EXPECT_FALSE(back.username);
  EXPECT_EQ(back.password, "secret");
}

TEST(Mqtt5Codec, ConnackWithEveryPropertyRoundTrips) {
  Connack c{true, ConnectCode::accepted, 0x00, {}};
  auto& p = c.props;
  p.session_expiry = 60;
  p.receive_maximum = 16;
  p.maximum_qos = 1;
  p.retain_available = 0;
  p.maximum_packet_size = 263168;
  p.assigned_client_id = "x";
  p.topic_alias_maximum = 10;
  p.reason_string = "fine";
  p.user = {{"server", "iotgw"}};
  p.wildcard_available = 1;
  p.subscription_ids_available = 0;
  p.shared_available = 0;
  p.server_keep_alive = 120;
  p.response_info = "ri";
  p.server_reference = "other:1883";
  p.auth_method = "m";
  p.auth_data = "d";
  const auto back = round_trip(c);
  EXPECT_TRUE(back.session_present);
  EXPECT_EQ(back.reason, 0);
  EXPECT_EQ(back.props.session_expiry, 60U);
  EXPECT_EQ(back.props.receive_maximum, 16);
  EXPECT_EQ(back.props.maximum_qos, 1);
  EXPECT_EQ(back.props.retain_available, 0);
  EXPECT_EQ(back.props.maximum_packet_size, 263168U);
  EXPECT_EQ(back.props.assigned_client_id, "x");
  EXPECT_EQ(back.props.topic_alias_maximum, 10);
  EXPECT_EQ(back.props.reason_string, "fine");
  EXPECT_EQ(back.props.user, p.user);
  EXPECT_EQ(back.props.wildcard_available, 1);
  EXPECT_EQ(back.props.subscription_ids_available, 0);
  EXPECT_EQ(back.props.shared_available, 0);
  EXPECT_EQ(back.props.server_keep_alive, 120);
  EXPECT_EQ(back.props.response_info, "ri");
  EXPECT_EQ(back.props.server_reference, "other:1883");
  EXPECT_EQ(back.props.auth_method, "m");
  EXPECT_EQ(back.props.auth_data, "d");
  const auto refused = round_trip(Connack{false, ConnectCode::accepted, 0x86, {}});
  EXPECT_EQ(refused.reason, 0x86);
}

TEST(Mqtt5Codec, PublishWithMessagePropertiesAndAnAliasRoundTrips) {
  Publish p{"", "payload", 1, false, true, 9, {}};
  p.props.topic_alias = 3;
  p.props.payload_format = 1;
  p.props.message_expiry = 30;
  p.props.content_type = "application/json";
  p.props.response_topic = "reply/here";
  p.props.correlation_data = std::string("\x00\xff", 2);
  p.props.subscription_ids = {7, 268'435'455};
  p.props.user = {{"x", "y"}, {"x", "z"}};
  const auto back = round_trip(p);
  EXPECT_EQ(back.topic, "");
  EXPECT_EQ(back.payload, "payload");
  EXPECT_EQ(back.packet_id, 9);
  EXPECT_TRUE(back.dup);
  EXPECT_EQ(back.props.topic_alias, 3);
  EXPECT_EQ(back.props.payload_format, 1);
  EXPECT_EQ(back.props.message_expiry, 30U);
  EXPECT_EQ(back.props.content_type, "application/json");
  EXPECT_EQ(back.props.response_topic, "reply/here");
  EXPECT_EQ(back.props.correlation_data, std::string("\x00\xff", 2));
  EXPECT_EQ(back.props.subscription_ids, (std::vector<std::uint32_t>{7, 268'435'455}));
  EXPECT_EQ(back.props.user, p.props.user);
}

TEST(Mqtt5Codec, AcksCarryReasonsAndLeaveOutWhatIsDefault) {
  // Success without properties is the 3.1.1 form: two bytes (3.4.2.1).
  EXPECT_EQ(encoded(Ack{PacketType::puback, 5, 0, {}}), (Bytes{0x40, 2, 0, 5}));
  Ack refused{PacketType::puback, 5, 0x97, {}};
  EXPECT_EQ(encoded(refused), (Bytes{0x40, 3, 0, 5, 0x97}));
  refused.props.reason_string = "quota";
  refused.props.user = {{"k", "v"}};
  const auto back = round_trip(refused);
  EXPECT_EQ(back.reason, 0x97);
  EXPECT_EQ(back.props.reason_string, "quota");
  EXPECT_EQ(back.props.user, refused.props.user);
  for (auto type : {PacketType::pubrec, PacketType::pubrel, PacketType::pubcomp}) {
    EXPECT_EQ(round_trip(Ack{type, 7, 0x92, {}}).reason, 0x92);
  }
  // A reason without properties, and properties of length zero, both read.
  EXPECT_EQ(std::get<Ack>(decoded({0x40, 4, 0, 5, 0x10, 0})).reason, 0x10);
}

TEST(Mqtt5Codec, SubscribeOptionsAndSubackCodesRoundTrip) {
  Subscribe s{3, {{"a/#", 1, true, true, 2}, {"b", 0}}, {}};
  s.props.subscription_ids = {12};
  s.props.user = {{"u", "1"}};
  const auto back = round_trip(s);
  ASSERT_EQ(back.subscriptions.size(), 2U);
  EXPECT_EQ(back.subscriptions[0].qos, 1);
  EXPECT_TRUE(back.subscriptions[0].no_local);
  EXPECT_TRUE(back.subscriptions[0].retain_as_published);
  EXPECT_EQ(back.subscriptions[0].retain_handling, 2);
  EXPECT_FALSE(back.subscriptions[1].no_local);
  EXPECT_EQ(back.props.subscription_ids, (std::vector<std::uint32_t>{12}));
  Suback sa{3, {1, 0x9E, 0xA2}, {}};
  sa.props.reason_string = "partly";
  const auto sb = round_trip(sa);
  EXPECT_EQ(sb.codes, sa.codes);
  EXPECT_EQ(sb.props.reason_string, "partly");
  Unsubscribe u{4, {"a/#"}, {}};
  u.props.user = {{"w", "x"}};
  EXPECT_EQ(round_trip(u).props.user, u.props.user);
  const auto ua = round_trip(Unsuback{4, {0x00, 0x11}, {}});
  EXPECT_EQ(ua.codes, (std::vector<std::uint8_t>{0x00, 0x11}));
}

TEST(Mqtt5Codec, DisconnectAndAuthRoundTrip) {
  EXPECT_EQ(encoded(Disconnect{}), (Bytes{0xE0, 0}));
  Disconnect d{0x9C, {}};
  d.props.server_reference = "gw2:8883";
  d.props.reason_string = "draining";
  d.props.session_expiry = 0;
  const auto back = round_trip(d);
  EXPECT_EQ(back.reason, 0x9C);
  EXPECT_EQ(back.props.server_reference, "gw2:8883");
  EXPECT_EQ(back.props.reason_string, "draining");
  EXPECT_EQ(back.props.session_expiry, 0U);
  EXPECT_EQ(std::get<Disconnect>(decoded({0xE0, 1, 0x04})).reason, 0x04);
  Auth a{0x18, {}};
  a.props.auth_method = "m";
  EXPECT_EQ(round_trip(a).props.auth_method, "m");
}

struct BadCase {
  const char* name;
  Bytes bytes;
  const char* error;
  Decoded kind = Decoded::malformed;
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.name;
}

Bytes packet(std::uint8_t first, const Bytes& body) {
  Bytes out = {first, static_cast<std::uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Property bytes with their one-byte length in front.
Bytes props(const Bytes& p) {
  return cat({static_cast<std::uint8_t>(p.size())}, p);
}

// An MQTT 5 CONNECT with these properties (raw: length included), client id "d" and what follows.
Bytes connect5(const Bytes& raw_props, std::uint8_t flags = 0x02, const Bytes& rest = {}) {
  return packet(
      0x10,
      cat(cat(cat({0, 4, 'M', 'Q', 'T', 'T', 5, flags, 0, 60}, raw_props), {0, 1, 'd'}), rest));
}

// A QoS 0 PUBLISH to "t" (or `topic`) with these properties (raw: length included).
Bytes publish5(const Bytes& raw_props, const Bytes& topic = {0, 1, 't'}) {
  return packet(0x30, cat(cat(topic, raw_props), {'x'}));
}

Bytes subscribe5(const Bytes& raw_props, std::uint8_t options = 1) {
  return packet(0x82, cat(cat({0, 1}, raw_props), {0, 1, 'a', options}));
}

constexpr auto kProtocol = Decoded::protocol_error;

class Mqtt5Malformed : public testing::TestWithParam<BadCase> {};

TEST_P(Mqtt5Malformed, IsRefusedWithItsReasonAndKind) {
  Packet out;
  std::size_t used = 0;
  std::string error;
  ASSERT_EQ(decode(GetParam().bytes, {.max_packet = 1024, .level = kV5}, out, used, error),
            GetParam().kind)
      << GetParam().name << ": " << error;
  EXPECT_NE(error.find(GetParam().error), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Table, Mqtt5Malformed,
    testing::Values(
        BadCase{"duplicate_content_type", publish5(props({0x03, 0, 1, 'a', 0x03, 0, 1, 'b'})),
                "content type appears twice", kProtocol},
        BadCase{"duplicate_receive_maximum", connect5(props({0x21, 0, 5, 0x21, 0, 6})),
                "receive maximum appears twice", kProtocol},
        BadCase{"duplicate_topic_alias", publish5(props({0x23, 0, 1, 0x23, 0, 2})),
                "topic alias appears twice", kProtocol},
        BadCase{"duplicate_session_expiry", connect5(props({0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2})),
                "session expiry interval appears twice", kProtocol},
        BadCase{"session_expiry_in_publish", publish5(props({0x11, 0, 0, 0, 1})),
                "session expiry interval is not allowed in this packet", kProtocol},
        BadCase{"topic_alias_in_connect", connect5(props({0x23, 0, 1})),
                "topic alias is not allowed", kProtocol},
        BadCase{"will_delay_in_publish", publish5(props({0x18, 0, 0, 0, 1})),
                "will delay interval is not allowed", kProtocol},
        BadCase{"reason_string_in_connect", connect5(props({0x1F, 0, 1, 'r'})),
                "reason string is not allowed", kProtocol},
        BadCase{"server_keep_alive_in_connect", connect5(props({0x13, 0, 9})),
                "server keep alive is not allowed", kProtocol},
        BadCase{"retain_available_in_publish", publish5(props({0x25, 1})),
                "retain available is not allowed", kProtocol},
        BadCase{"payload_format_in_disconnect", packet(0xE0, {0, 2, 0x01, 1}),
                "payload format indicator is not allowed", kProtocol},
        BadCase{"subscription_id_in_connect", connect5(props({0x0B, 1})),
                "subscription identifier is not allowed", kProtocol},
        BadCase{"unknown_property", publish5(props({0x7F, 0})), "unknown property identifier 127"},
        BadCase{"property_length_past_end", publish5({10, 0x01}), "properties is truncated"},
        BadCase{"property_length_five_bytes", publish5({0x80, 0x80, 0x80, 0x80, 0x01}),
                "property length is longer than four bytes"},
        BadCase{"property_length_not_minimal", publish5({0x80, 0x00}),
                "property length is not minimally encoded"},
        BadCase{"receive_maximum_zero", connect5(props({0x21, 0, 0})), "receive maximum is 0",
                kProtocol},
        BadCase{"maximum_packet_size_zero", connect5(props({0x27, 0, 0, 0, 0})),
                "maximum packet size is 0", kProtocol},
        BadCase{"payload_format_2", publish5(props({0x01, 2})),
                "payload format indicator is 2, not 0 or 1", kProtocol},
        BadCase{"request_problem_information_2", connect5(props({0x17, 2})),
                "request problem information is 2", kProtocol},
        BadCase{"subscription_id_zero", subscribe5(props({0x0B, 0})),
                "subscription identifier is 0", kProtocol},
        BadCase{"subscription_id_twice_in_subscribe", subscribe5(props({0x0B, 1, 0x0B, 2})),
                "subscription identifier appears twice", kProtocol},
        BadCase{"subscription_id_varint_not_minimal", subscribe5(props({0x0B, 0x81, 0x00})),
                "subscription identifier is not minimally encoded"},
        BadCase{"user_property_value_missing", publish5(props({0x26, 0, 1, 'k'})),
                "user property value is truncated"},
        BadCase{"user_property_bad_utf8", publish5(props({0x26, 0, 1, 0xFF, 0, 0})),
                "user property name is not valid UTF-8"},
        BadCase{"content_type_bad_utf8", publish5(props({0x03, 0, 2, 0xC0, 0xAF})),
                "content type is not valid UTF-8"},
        BadCase{"correlation_data_truncated", publish5(props({0x09, 0, 9, 'a'})),
                "correlation data is truncated"},
        BadCase{"message_expiry_truncated", publish5(props({0x02, 0, 0})),
                "message expiry interval is truncated"},
        BadCase{"empty_topic_without_alias", publish5(props({}), {0, 0}),
                "empty topic and no topic alias", kProtocol},
        BadCase{"subscribe_reserved_option_bits", subscribe5(props({}), 0x41),
                "SUBSCRIBE options' reserved bits are set"},
        BadCase{"subscribe_retain_handling_3", subscribe5(props({}), 0x31),
                "SUBSCRIBE retain handling 3", kProtocol},
        BadCase{"subscribe_qos_3", subscribe5(props({}), 0x03), "SUBSCRIBE maximum QoS 3"},
        BadCase{"subscribe_without_properties", packet(0x82, {0, 1}),
                "property length is truncated"},
        BadCase{"unsubscribe_no_filter", packet(0xA2, {0, 1, 0}), "UNSUBSCRIBE without a filter",
                kProtocol},
        BadCase{"puback_properties_truncated", packet(0x40, {0, 1, 0x80, 5}),
                "properties is truncated"},
        BadCase{"disconnect_past_its_end", packet(0xE0, {0x00, 0, 7}),
                "DISCONNECT or AUTH has bytes past its end"},
        BadCase{"auth_reserved_flags", packet(0xF1, {}), "reserved flags set"},
        BadCase{"connect_properties_truncated",
                packet(0x10, {0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 60, 3, 0x11}),
                "properties is truncated"},
        BadCase{"will_properties_truncated", connect5(props({}), 0x06, {9, 0x18}),
                "properties is truncated"},
        BadCase{"will_topic_alias_not_allowed",
                connect5(props({}), 0x06, {3, 0x23, 0, 1, 0, 1, 'w', 0, 0}),
                "topic alias is not allowed", kProtocol},
        BadCase{"property_identifier_five_bytes", publish5(props({0xFF, 0xFF, 0xFF, 0xFF})),
                "property identifier is longer than four bytes"}),
    [](const testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace iotgw::mqtt
