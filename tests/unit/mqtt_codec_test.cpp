// The MQTT codec on its own: every packet type survives encode then decode, a packet split at
// any byte waits for the rest, and each malformed input is refused with its own reason.
#include <gtest/gtest.h>

#include "codec/codec.hpp"
#include "codec/topic_filter.hpp"

namespace iotgw::mqtt {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes encoded(const Packet& p) {
  Bytes out;
  encode(p, out);
  return out;
}

Packet decoded(const Bytes& bytes) {
  Packet p;
  std::size_t used = 0;
  std::string error;
  EXPECT_EQ(decode(bytes, {}, p, used, error), Decoded::packet) << error;
  EXPECT_EQ(used, bytes.size());
  return p;
}

TEST(MqttCodec, ConnectWithEverythingRoundTrips) {
  Connect c;
  c.client_id = "dev1";
  c.clean_session = false;
  c.keep_alive = 60;
  c.will = Will{"devices/dev1/messages/events/", "gone", 1, true};
  c.username = "hub.azure-devices.net/dev1/?api-version=2021-04-12";
  c.password = std::string("SharedAccessSignature sr=x\0y", 29);
  const auto back = std::get<Connect>(decoded(encoded(c)));
  EXPECT_EQ(back.protocol_name, "MQTT");
  EXPECT_EQ(back.level, 4);
  EXPECT_EQ(back.client_id, "dev1");
  EXPECT_FALSE(back.clean_session);
  EXPECT_EQ(back.keep_alive, 60);
  ASSERT_TRUE(back.will);
  EXPECT_EQ(back.will->topic, c.will->topic);
  EXPECT_EQ(back.will->payload, "gone");
  EXPECT_EQ(back.will->qos, 1);
  EXPECT_TRUE(back.will->retain);
  EXPECT_EQ(back.username, c.username);
  EXPECT_EQ(back.password, c.password);
}

TEST(MqttCodec, EveryOtherPacketTypeRoundTrips) {
  const auto ack = std::get<Connack>(decoded(encoded(Connack{true, ConnectCode::not_authorized})));
  EXPECT_TRUE(ack.session_present);
  EXPECT_EQ(ack.code, ConnectCode::not_authorized);

  Publish p{"devices/d/messages/events/a=1", std::string(300, 'x'), 1, true, true, 7};
  const auto pb = std::get<Publish>(decoded(encoded(p)));
  EXPECT_EQ(pb.topic, p.topic);
  EXPECT_EQ(pb.payload, p.payload);
  EXPECT_EQ(pb.qos, 1);
  EXPECT_TRUE(pb.retain);
  EXPECT_TRUE(pb.dup);
  EXPECT_EQ(pb.packet_id, 7);

  const auto p0 = std::get<Publish>(decoded(encoded(Publish{"t", "", 0, false, false, 0})));
  EXPECT_EQ(p0.payload, "");
  EXPECT_EQ(p0.packet_id, 0);

  for (auto type :
       {PacketType::puback, PacketType::pubrec, PacketType::pubrel, PacketType::pubcomp}) {
    const auto a = std::get<Ack>(decoded(encoded(Ack{type, 513})));
    EXPECT_EQ(a.type, type);
    EXPECT_EQ(a.packet_id, 513);
  }
  const auto s = std::get<Subscribe>(
      decoded(encoded(Subscribe{9, {{"devices/d/messages/devicebound/#", 1}, {"$iothub/x", 0}}})));
  ASSERT_EQ(s.subscriptions.size(), 2U);
  EXPECT_EQ(s.subscriptions[0].filter, "devices/d/messages/devicebound/#");
  EXPECT_EQ(s.subscriptions[0].qos, 1);
  const auto sa = std::get<Suback>(decoded(encoded(Suback{9, {1, kSubackFailure}})));
  EXPECT_EQ(sa.codes, (std::vector<std::uint8_t>{1, kSubackFailure}));
  const auto u = std::get<Unsubscribe>(decoded(encoded(Unsubscribe{3, {"a/b", "c"}})));
  EXPECT_EQ(u.filters, (std::vector<std::string>{"a/b", "c"}));
  // 3.1.1's UNSUBACK carries no codes, whatever the struct holds.
  const auto ua = std::get<Unsuback>(decoded(encoded(Unsuback{4, {0x11}, {}})));
  EXPECT_EQ(ua.packet_id, 4);
  EXPECT_TRUE(ua.codes.empty());
  for (auto type : {PacketType::pingreq, PacketType::pingresp}) {
    EXPECT_EQ(std::get<Bare>(decoded(encoded(Bare{type}))).type, type);
  }
  EXPECT_EQ(encoded(Disconnect{0x8B, {}}), (Bytes{0xE0, 0}));  // 3.1.1 has no reason
  EXPECT_EQ(std::get<Disconnect>(decoded({0xE0, 0})).reason, 0);
}

TEST(MqttCodec, RemainingLengthUsesUpToFourBytes) {
  for (std::size_t size : {0UL, 127UL, 128UL, 16383UL, 16384UL, 200000UL}) {
    Publish p{"t", std::string(size, 'y'), 0, false, false, 0};
    DecodeOptions big;
    big.max_packet = 1 << 20;
    Packet out;
    std::size_t used = 0;
    std::string error;
    const auto bytes = encoded(p);
    ASSERT_EQ(decode(bytes, big, out, used, error), Decoded::packet) << size << " " << error;
    EXPECT_EQ(std::get<Publish>(out).payload.size(), size);
  }
}

TEST(MqttCodec, APacketCutAnywhereWaitsForTheRest) {
  const auto bytes = encoded(Publish{"devices/d/messages/events/", "payload", 1, false, false, 5});
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    Packet out;
    std::size_t used = 99;
    std::string error;
    EXPECT_EQ(decode(std::span(bytes).first(cut), {}, out, used, error), Decoded::need_more)
        << "cut at " << cut;
    EXPECT_EQ(used, 0U);
  }
}

struct BadCase {
  const char* name;
  Bytes bytes;
  const char* error;
  Decoded kind = Decoded::malformed;
  ProtocolLevel level = ProtocolLevel::v311;
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.name;
}

// A valid CONNECT's variable header for MQTT 3.1.1 with the given flags, then a client id.
Bytes connect_with(std::uint8_t flags, Bytes payload = {0, 1, 'd'}) {
  Bytes body = {0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 60};
  body.insert(body.end(), payload.begin(), payload.end());
  Bytes out = {0x10, static_cast<std::uint8_t>(body.size())};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes publish_topic(Bytes topic, std::uint8_t first = 0x30) {
  Bytes out = {first, static_cast<std::uint8_t>(topic.size() + 2), 0,
               static_cast<std::uint8_t>(topic.size())};
  out.insert(out.end(), topic.begin(), topic.end());
  return out;
}

class MqttMalformed : public testing::TestWithParam<BadCase> {};

TEST_P(MqttMalformed, IsRefusedWithItsReason) {
  Packet out;
  std::size_t used = 0;
  std::string error;
  DecodeOptions limits;
  limits.max_packet = 1024;
  limits.level = GetParam().level;
  ASSERT_EQ(decode(GetParam().bytes, limits, out, used, error), GetParam().kind)
      << GetParam().name << ": " << error;
  EXPECT_NE(error.find(GetParam().error), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Table, MqttMalformed,
    testing::Values(
        BadCase{"type_0", {0x00, 0}, "packet type 0 is reserved"},
        BadCase{"type_15", {0xF0, 0}, "packet type 15 is reserved"},
        BadCase{"remaining_length_5_bytes",
                {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01},
                "remaining length longer than four bytes"},
        BadCase{"oversize", {0x30, 0x80, 0x10}, "over the limit of 1024", Decoded::too_large},
        BadCase{"connect_reserved_flag", connect_with(0x03), "CONNECT reserved flag is set"},
        BadCase{"connect_will_qos_3", connect_with(0x1E), "will QoS 3"},
        BadCase{"connect_will_qos_without_will", connect_with(0x0A),
                "will QoS or retain without a will"},
        BadCase{"connect_will_retain_without_will", connect_with(0x22),
                "will QoS or retain without a will"},
        BadCase{"connect_password_without_user", connect_with(0x42, {0, 1, 'd', 0, 1, 'p'}),
                "password without user name"},
        BadCase{"connect_truncated_client_id", connect_with(0x02, {0, 5, 'd'}),
                "client identifier is truncated"},
        BadCase{"connect_client_id_bad_utf8", connect_with(0x02, {0, 2, 0xC3, 0x28}),
                "client identifier is not valid UTF-8"},
        BadCase{"connect_client_id_nul", connect_with(0x02, {0, 2, 'a', 0}),
                "client identifier is not valid UTF-8"},
        BadCase{"connect_client_id_surrogate", connect_with(0x02, {0, 3, 0xED, 0xA0, 0x80}),
                "client identifier is not valid UTF-8"},
        BadCase{"connect_client_id_overlong", connect_with(0x02, {0, 2, 0xC0, 0xAF}),
                "client identifier is not valid UTF-8"},
        BadCase{"connect_trailing_bytes", connect_with(0x02, {0, 1, 'd', 9}),
                "CONNECT has bytes past its end"},
        BadCase{"connect_wrong_protocol_name",
                {0x10, 8, 0, 4, 'M', 'Q', 'T', 'X', 4, 2},
                "protocol name 'MQTX' is not MQTT"},
        BadCase{"connect_flags_in_fixed_header", {0x11, 0}, "reserved flags set"},
        BadCase{"connect_will_topic_wildcard", connect_with(0x06, {0, 1, 'd', 0, 1, '#', 0, 0}),
                "empty or has wildcards"},
        BadCase{"publish_qos_3", publish_topic({'t'}, 0x36), "PUBLISH with QoS 3"},
        BadCase{"publish_qos0_dup", publish_topic({'t'}, 0x38), "PUBLISH QoS 0 with DUP set"},
        BadCase{"publish_wildcard_plus", publish_topic({'a', '/', '+'}), "has wildcards"},
        BadCase{"publish_wildcard_hash", publish_topic({'a', '/', '#'}), "has wildcards"},
        BadCase{"publish_empty_topic", publish_topic({}), "PUBLISH with an empty topic"},
        BadCase{"publish_topic_bad_utf8", publish_topic({0xFF}), "topic name is not valid UTF-8"},
        BadCase{"publish_qos1_no_packet_id", publish_topic({'t'}, 0x32),
                "packet identifier is truncated"},
        BadCase{"publish_qos1_packet_id_0",
                {0x32, 5, 0, 1, 't', 0, 0},
                "PUBLISH has packet identifier 0"},
        BadCase{"publish_topic_truncated", {0x30, 3, 0, 9, 't'}, "topic name is truncated"},
        BadCase{"puback_long", {0x40, 3, 0, 1, 0}, "acknowledgement has bytes past its end"},
        BadCase{"puback_short", {0x40, 1, 0}, "packet identifier is truncated"},
        BadCase{"puback_flags", {0x41, 2, 0, 1}, "reserved flags set"},
        BadCase{"pubrel_without_0010", {0x60, 2, 0, 1}, "reserved flags set"},
        BadCase{"subscribe_without_0010", {0x80, 6, 0, 1, 0, 1, 'a', 0}, "reserved flags set"},
        BadCase{"subscribe_no_filter",
                {0x82, 2, 0, 1},
                "SUBSCRIBE without a filter",
                Decoded::protocol_error},
        BadCase{
            "subscribe_qos_3", {0x82, 6, 0, 1, 0, 1, 'a', 3}, "SUBSCRIBE requested QoS is invalid"},
        BadCase{"subscribe_reserved_bits",
                {0x82, 6, 0, 1, 0, 1, 'a', 0x41},
                "SUBSCRIBE requested QoS is invalid"},
        BadCase{"subscribe_empty_filter",
                {0x82, 5, 0, 1, 0, 0, 0},
                "SUBSCRIBE filter '' is empty or misplaces a wildcard"},
        BadCase{"subscribe_hash_not_last",
                {0x82, 8, 0, 1, 0, 3, '#', '/', 'a', 0},
                "SUBSCRIBE filter '#/a' is empty or misplaces a wildcard"},
        BadCase{"unsubscribe_plus_in_level",
                {0xA2, 6, 0, 1, 0, 2, 'a', '+'},
                "UNSUBSCRIBE filter 'a+' is empty or misplaces a wildcard"},
        BadCase{"subscribe_packet_id_0",
                {0x82, 6, 0, 0, 0, 1, 'a', 0},
                "SUBSCRIBE has packet identifier 0"},
        BadCase{"unsubscribe_no_filter",
                {0xA2, 2, 0, 1},
                "UNSUBSCRIBE without a filter",
                Decoded::protocol_error},
        BadCase{"pingreq_with_body", {0xC0, 1, 0}, "PINGREQ or PINGRESP has bytes past its end"},
        BadCase{"disconnect_with_body_before_5", {0xE0, 1, 0x04}, "has bytes past its end"},
        BadCase{"disconnect_flags", {0xE1, 0}, "reserved flags set"}),
    [](const testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(MqttTopicFilter, WildcardsTakeWholeLevelsAndHashOnlyLast) {
  for (const char* good : {"#", "+", "a/+/c", "a/#", "+/+", "/", "a//b", "$SYS/#", "+/b/#"}) {
    EXPECT_TRUE(valid_filter(good)) << good;
  }
  for (const char* bad : {"", "a#", "#/b", "a/b+", "+a/b", "a/#/c"}) {
    EXPECT_FALSE(valid_filter(bad)) << bad;
  }
}

TEST(MqttTopicFilter, MatchesAsSection4Says) {
  struct Case {
    const char *filter, *topic;
    bool matches;
  };
  for (const auto& c : std::vector<Case>{{"a/b", "a/b", true},
                                         {"a/b", "a/b/c", false},
                                         {"a/+", "a/b", true},
                                         {"a/+", "a/b/c", false},
                                         {"a/+", "a/", true},
                                         {"a/#", "a", true},
                                         {"a/#", "a/b/c", true},
                                         {"a/#", "b/a", false},
                                         {"#", "a/b", true},
                                         {"#", "$SYS/x", false},
                                         {"+/x", "$SYS/x", false},
                                         {"$SYS/#", "$SYS/x", true},
                                         {"+/+", "/x", true},
                                         {"+", "a/b", false}}) {
    EXPECT_EQ(filter_matches(c.filter, c.topic), c.matches) << c.filter << " " << c.topic;
  }
}

}  // namespace
}  // namespace iotgw::mqtt
