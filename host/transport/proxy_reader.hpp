// Reads the PROXY protocol v2 header off a socket a listener with `proxy_protocol: v2` accepted,
// before anything else (the TLS handshake, the WebSocket upgrade) sees the socket: exactly the
// header's bytes, so what follows stays in the socket for the stream. Bounded in time, so a
// peer that connects and sends nothing cannot hold a connection slot.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "transport/proxy_header.hpp"

namespace iotgw::transport {

struct ProxiedAddresses {
  std::string remote, local;
};

// `done` gets the socket back with the addresses the header names (nullopt: LOCAL, keep the
// socket's own), or with `why` set when the header is missing, malformed or late (the socket is
// then closed and the caller only counts and logs it).
using ProxyDone = std::function<void(boost::asio::ip::tcp::socket socket,
                                     std::optional<ProxiedAddresses> addresses, std::string why)>;
void read_proxy_header(boost::asio::ip::tcp::socket socket, std::chrono::milliseconds timeout,
                       ProxyDone done);

}  // namespace iotgw::transport
