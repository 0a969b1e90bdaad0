// The CoAP codec on its own: messages survive encode then decode, option deltas and lengths use
// their extended forms at the RFC's boundaries, and each malformed datagram is refused with its
// reason and kind (format error: RST or drop; not CoAP: drop).
#include <gtest/gtest.h>

#include "codec/codec.hpp"

namespace iotgw::coap {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes encoded(const Message& m) {
  Bytes out;
  encode(m, out);
  return out;
}

Message decoded(const Bytes& bytes) {
  Message m;
  std::string error;
  EXPECT_EQ(decode(bytes, m, error), Decoded::message) << error;
  return m;
}

TEST(CoapCodec, ARequestWithOptionsTokenAndPayloadRoundTrips) {
  Message m;
  m.type = Type::con;
  m.code = code::post;
  m.id = 0xBEEF;
  m.token = std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  m.add(option::uri_query, "d=dev1");  // out of order: the encoder sorts
  m.add(option::uri_path, "telemetry");
  m.add_uint(option::content_format, 50);
  m.add(option::uri_query, "colour=red");
  m.payload = R"({"t":21})";
  const auto back = decoded(encoded(m));
  EXPECT_EQ(back.type, Type::con);
  EXPECT_EQ(back.code, code::post);
  EXPECT_EQ(back.id, 0xBEEF);
  EXPECT_EQ(back.token, m.token);
  EXPECT_EQ(back.all(option::uri_path), std::vector<std::string>{"telemetry"});
  EXPECT_EQ(back.all(option::uri_query), (std::vector<std::string>{"d=dev1", "colour=red"}));
  EXPECT_EQ(decode_uint(back.find(option::content_format)->value), 50U);
  EXPECT_EQ(back.payload, m.payload);
  EXPECT_EQ(code::changed.str(), "2.04");
}

TEST(CoapCodec, AnEmptyAckIsFourBytes) {
  Message ack;
  ack.type = Type::ack;
  ack.id = 7;
  EXPECT_EQ(encoded(ack), (Bytes{0x60, 0x00, 0x00, 0x07}));
  EXPECT_TRUE(decoded({0x70, 0x00, 0x12, 0x34}).code.empty());  // RST
}

TEST(CoapCodec, OptionDeltasAndLengthsUseTheirExtendedForms) {
  for (std::uint16_t number : {12, 13, 268, 269, 270, 2000, 65000}) {
    for (std::size_t length : {0UL, 12UL, 13UL, 268UL, 269UL, 1000UL}) {
      Message m;
      m.code = code::get;
      m.add(number, std::string(length, 'v'));
      const auto back = decoded(encoded(m));
      ASSERT_EQ(back.options.size(), 1U) << number << " " << length;
      EXPECT_EQ(back.options[0].number, number);
      EXPECT_EQ(back.options[0].value.size(), length);
    }
  }
}

TEST(CoapCodec, UintAndBlockValuesUseTheFewestBytes) {
  EXPECT_EQ(encode_uint(0), "");
  EXPECT_EQ(encode_uint(255), "\xff");
  EXPECT_EQ(encode_uint(256), std::string("\x01\x00", 2));
  EXPECT_EQ(decode_uint(std::string("\x01\x00\x00\x00\x00", 5)), std::nullopt);
  const Block b{.num = 1000, .more = true, .szx = 2};
  const auto back = decode_block(encode_uint(encode_block(b)));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->num, 1000U);
  EXPECT_TRUE(back->more);
  EXPECT_EQ(back->size(), 64U);
  EXPECT_EQ(back->offset(), 64000U);
  EXPECT_EQ(decode_block("\x07"), std::nullopt);  // SZX 7 is reserved
  EXPECT_EQ(decode_block(std::string("\x01\x00\x00\x00", 4)), std::nullopt);
}

struct BadCase {
  const char* name;
  Bytes bytes;
  const char* error;
  Decoded kind = Decoded::format_error;
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.name;
}

class CoapMalformed : public testing::TestWithParam<BadCase> {};

TEST_P(CoapMalformed, IsRefusedWithItsReasonAndKind) {
  Message out;
  std::string error;
  ASSERT_EQ(decode(GetParam().bytes, out, error), GetParam().kind) << error;
  EXPECT_NE(error.find(GetParam().error), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CoapMalformed,
    testing::Values(
        BadCase{"short", {0x40, 0x01}, "shorter than a CoAP header", Decoded::not_coap},
        BadCase{"version_2", {0x80, 0x01, 0, 1}, "version 2", Decoded::not_coap},
        BadCase{"version_0", {0x00, 0x01, 0, 1}, "version 0", Decoded::not_coap},
        BadCase{"token_length_9", {0x49, 0x01, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "token length 9"},
        BadCase{"token_length_15", {0x4F, 0x01, 0, 1}, "token length 15"},
        BadCase{"token_past_end", {0x44, 0x01, 0, 1, 1, 2}, "token runs past"},
        BadCase{"code_class_1", {0x40, 0x20, 0, 1}, "code class 1 is reserved"},
        BadCase{"code_class_7", {0x40, 0xE0, 0, 1}, "code class 7 is reserved"},
        BadCase{"empty_with_token", {0x41, 0x00, 0, 1, 9}, "an empty message"},
        BadCase{"empty_with_payload", {0x60, 0x00, 0, 1, 0xFF, 1}, "an empty message"},
        BadCase{"marker_without_payload", {0x40, 0x01, 0, 1, 0xFF}, "payload marker with no"},
        BadCase{"delta_nibble_15", {0x40, 0x01, 0, 1, 0xF1, 0}, "option delta nibble 15"},
        BadCase{"length_nibble_15", {0x40, 0x01, 0, 1, 0xBF, 0}, "option length nibble 15"},
        BadCase{"delta_extension_missing", {0x40, 0x01, 0, 1, 0xD0}, "option delta nibble 15, or"},
        BadCase{
            "length_extension_missing", {0x40, 0x01, 0, 1, 0x1E, 0}, "option length nibble 15, or"},
        BadCase{"option_value_past_end", {0x40, 0x01, 0, 1, 0xB5, 't', 'e'}, "runs past"},
        BadCase{"option_number_over_65535",
                {0x40, 0x01, 0, 1, 0xE0, 0xFF, 0xFF, 0xE0, 0xFF, 0xFF},
                "is over 65535"}),
    [](const testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(CoapCodec, AFormatErrorStillSaysTheIdAndTypeForTheRst) {
  Message out;
  std::string error;
  ASSERT_EQ(decode(Bytes{0x4F, 0x01, 0x12, 0x34}, out, error), Decoded::format_error);
  EXPECT_EQ(out.id, 0x1234);
  EXPECT_EQ(out.type, Type::con);
}

}  // namespace
}  // namespace iotgw::coap
