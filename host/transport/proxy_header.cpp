#include "transport/proxy_header.hpp"

#include <algorithm>
#include <array>

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

namespace iotgw::transport::proxy {

namespace {

constexpr std::array<std::uint8_t, 12> kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                     0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t kVersion2 = 0x20;
constexpr std::uint8_t kCommandLocal = 0x00;
constexpr std::uint8_t kCommandProxy = 0x01;
constexpr std::uint8_t kFamilyInet = 0x10;
constexpr std::uint8_t kFamilyInet6 = 0x20;
constexpr std::uint8_t kProtocolStream = 0x01;
constexpr std::size_t kInetAddresses = 12;   // two IPv4 addresses, two ports
constexpr std::size_t kInet6Addresses = 36;  // two IPv6 addresses, two ports

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

template <std::size_t N>
std::array<unsigned char, N> bytes_at(const std::uint8_t* p) {
  std::array<unsigned char, N> out{};
  std::copy_n(p, N, out.begin());
  return out;
}

std::string with_port(const std::string& ip, std::uint16_t port, bool v6) {
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

}  // namespace

std::variant<std::size_t, std::string> header_size(std::span<const std::uint8_t> fixed) {
  if (fixed.size() < kFixedSize) return std::string("a PROXY v2 header is at least 16 bytes");
  if (!std::equal(kSignature.begin(), kSignature.end(), fixed.begin())) {
    return std::string("no PROXY protocol v2 signature (the listener expects proxy_protocol: v2)");
  }
  if ((fixed[12] & 0xF0) != kVersion2) return std::string("PROXY protocol version is not 2");
  const std::size_t size = kFixedSize + be16(&fixed[14]);
  if (size > kMaxSize) {
    return "PROXY v2 header of " + std::to_string(size) + " bytes is over " +
           std::to_string(kMaxSize);
  }
  return size;
}

std::variant<Header, std::string> parse_header(std::span<const std::uint8_t> whole) {
  auto size = header_size(whole);
  if (auto* why = std::get_if<std::string>(&size)) return *why;
  if (whole.size() != std::get<std::size_t>(size)) {
    return std::string("PROXY v2 header length does not match its bytes");
  }
  const std::uint8_t command = whole[12] & 0x0F;
  if (command == kCommandLocal) return Header{.local = true, .source = {}, .destination = {}};
  if (command != kCommandProxy) return std::string("PROXY v2 command is neither LOCAL nor PROXY");
  const std::uint8_t family = whole[13] & 0xF0;
  const std::uint8_t protocol = whole[13] & 0x0F;
  const std::size_t body = whole.size() - kFixedSize;
  const std::uint8_t* a = whole.data() + kFixedSize;
  if (protocol != kProtocolStream || (family != kFamilyInet && family != kFamilyInet6)) {
    return Header{.local = true, .source = {}, .destination = {}};
  }
  if (family == kFamilyInet) {
    if (body < kInetAddresses) return std::string("PROXY v2 IPv4 addresses are cut short");
    const boost::asio::ip::address_v4 src(bytes_at<4>(a)), dst(bytes_at<4>(a + 4));
    return Header{.local = false,
                  .source = with_port(src.to_string(), be16(a + 8), false),
                  .destination = with_port(dst.to_string(), be16(a + 10), false)};
  }
  if (body < kInet6Addresses) return std::string("PROXY v2 IPv6 addresses are cut short");
  const boost::asio::ip::address_v6 src(bytes_at<16>(a)), dst(bytes_at<16>(a + 16));
  return Header{.local = false,
                .source = with_port(src.to_string(), be16(a + 32), true),
                .destination = with_port(dst.to_string(), be16(a + 34), true)};
}

}  // namespace iotgw::transport::proxy
