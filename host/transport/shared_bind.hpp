// Binding one socket per event loop to the same address: SO_REUSEPORT lets each loop have its own
// socket, and the kernel spreads connections (tcp) or peers (udp) across them. Shared by the TCP
// acceptor and the UDP endpoint.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/ip/address.hpp>

namespace iotgw::transport {

// "host:port", with brackets around an IPv6 host: how bind errors name the address.
inline std::string bind_where(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

// Opens `socket` (an acceptor or a datagram socket) and binds it to host:port beside the other
// loops' sockets; throws std::runtime_error with "cannot bind host:port: reason".
template <class Socket>
void bind_shared(Socket& socket, const std::string& host, std::uint16_t port) {
  using reuse_port = boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("cannot bind " + bind_where(host, port) + ": not an IP address");
  const typename Socket::endpoint_type ep(address, port);
  socket.open(ep.protocol(), ec);
  if (!ec) socket.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) socket.set_option(reuse_port(true), ec);
  if (!ec) socket.bind(ep, ec);
  if (ec) throw std::runtime_error("cannot bind " + bind_where(host, port) + ": " + ec.message());
}

}  // namespace iotgw::transport
