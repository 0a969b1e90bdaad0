// The PROXY protocol version 2 header a load balancer (HAProxy `send-proxy-v2`, AWS NLB, Envoy)
// puts before a connection's first byte, so the device's own address reaches the logs, the auth
// stages and per-address limits instead of the balancer's. Spec: haproxy.org's proxy-protocol.txt
// section 2.2. Parsing only: reading the bytes off the socket is proxy_reader's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>

namespace iotgw::transport::proxy {

// The signature, version/command, family/protocol and length: enough to know the whole size.
constexpr std::size_t kFixedSize = 16;
// Addresses and TLVs past this are refused: HAProxy's own TLVs (ALPN, authority, SSL facts,
// unique id) stay far below it, and a peer that claims more is not a load balancer.
constexpr std::size_t kMaxSize = 2048;

struct Header {
  // LOCAL: the balancer speaking for itself (its health checks); keep the socket's addresses.
  bool local = false;
  std::string source;       // "ip:port", IPv6 in brackets, as Stream::remote_address()
  std::string destination;  // the address the device connected to, at the balancer
};

// From the first kFixedSize bytes: the size of the whole header, or why these are not one.
std::variant<std::size_t, std::string> header_size(std::span<const std::uint8_t> fixed);

// The whole header (header_size bytes): its addresses, or why it is refused. Families other than
// IPv4 and IPv6 (UNIX, UNSPEC) and datagram protocols carry no address a device has: such a
// PROXY header keeps the socket's addresses, as LOCAL does.
std::variant<Header, std::string> parse_header(std::span<const std::uint8_t> whole);

}  // namespace iotgw::transport::proxy
