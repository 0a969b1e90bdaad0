// The PROXY protocol v2 header, byte for byte as HAProxy's proxy-protocol.txt (2.2) lays it out.
#include "transport/proxy_header.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace proxy = iotgw::transport::proxy;

namespace {

using Bytes = std::vector<std::uint8_t>;

const Bytes kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

Bytes header(std::uint8_t version_command, std::uint8_t family_protocol, const Bytes& body) {
  Bytes h = kSignature;
  h.push_back(version_command);
  h.push_back(family_protocol);
  h.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  h.push_back(static_cast<std::uint8_t>(body.size() & 0xFF));
  h.insert(h.end(), body.begin(), body.end());
  return h;
}

// 203.0.113.7:51234 -> 10.0.0.5:8883, then a TLV (PP2_TYPE_AUTHORITY "gw") that is skipped.
const Bytes kIpv4Body = {203,  0,    113,  7,    10,   0,    0,   5,  0xC8,
                         0x22, 0x22, 0xB3, 0x02, 0x00, 0x02, 'g', 'w'};

std::string why(const std::variant<proxy::Header, std::string>& r) {
  return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
}

}  // namespace

TEST(ProxyHeader, Ipv4ProxyNamesTheDeviceAndTheBalancersAddress) {
  const auto h = header(0x21, 0x11, kIpv4Body);
  ASSERT_EQ(std::get<std::size_t>(proxy::header_size(h)), h.size());
  const auto r = proxy::parse_header(h);
  ASSERT_TRUE(std::holds_alternative<proxy::Header>(r)) << why(r);
  const auto& p = std::get<proxy::Header>(r);
  EXPECT_FALSE(p.local);
  EXPECT_EQ(p.source, "203.0.113.7:51234");
  EXPECT_EQ(p.destination, "10.0.0.5:8883");
}

TEST(ProxyHeader, Ipv6AddressesAreBracketed) {
  Bytes body(36, 0);
  body[0] = 0x20;  // 2001:db8::1
  body[1] = 0x01;
  body[2] = 0x0d;
  body[3] = 0xb8;
  body[15] = 1;
  body[31] = 1;  // ::1
  body[32] = 0x04;
  body[33] = 0xD2;  // 1234
  body[34] = 0x07;
  body[35] = 0x5B;  // 1883
  const auto r = proxy::parse_header(header(0x21, 0x21, body));
  ASSERT_TRUE(std::holds_alternative<proxy::Header>(r)) << why(r);
  EXPECT_EQ(std::get<proxy::Header>(r).source, "[2001:db8::1]:1234");
  EXPECT_EQ(std::get<proxy::Header>(r).destination, "[::1]:1883");
}

TEST(ProxyHeader, LocalAndAddresslessFamiliesKeepTheSocketsAddresses) {
  for (const auto& h : {header(0x20, 0x00, {}), header(0x21, 0x31, Bytes(216, 0)),
                        header(0x21, 0x12, kIpv4Body), header(0x21, 0x00, {})}) {
    const auto r = proxy::parse_header(h);
    ASSERT_TRUE(std::holds_alternative<proxy::Header>(r)) << why(r);
    EXPECT_TRUE(std::get<proxy::Header>(r).local);
  }
}

TEST(ProxyHeader, WhatIsNotAHeaderIsRefusedWithTheReason) {
  // An MQTT CONNECT where the header should be: the listener expects a balancer in front.
  const Bytes connect = {0x10, 0x1A, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                         0x04, 0x02, 0x00, 0x3C, 0x00, 0x04, 'd', 'e'};
  EXPECT_NE(std::get<std::string>(proxy::header_size(connect)).find("no PROXY protocol v2"),
            std::string::npos);
  auto v1 = header(0x11, 0x11, kIpv4Body);
  EXPECT_NE(std::get<std::string>(proxy::header_size(v1)).find("version"), std::string::npos);
  auto huge = header(0x21, 0x11, Bytes(proxy::kMaxSize, 0));
  EXPECT_NE(std::get<std::string>(proxy::header_size(huge)).find("over"), std::string::npos);
  EXPECT_NE(why(proxy::parse_header(header(0x21, 0x11, Bytes(11, 0)))).find("cut short"),
            std::string::npos);
  EXPECT_NE(why(proxy::parse_header(header(0x21, 0x21, Bytes(35, 0)))).find("cut short"),
            std::string::npos);
  EXPECT_NE(why(proxy::parse_header(header(0x2F, 0x11, kIpv4Body))).find("command"),
            std::string::npos);
  auto cut = header(0x21, 0x11, kIpv4Body);
  cut.pop_back();
  EXPECT_NE(why(proxy::parse_header(cut)).find("length"), std::string::npos);
  EXPECT_FALSE(why(proxy::parse_header(Bytes(5, 0))).empty());
}
