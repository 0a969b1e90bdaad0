// What the streams over one accepted TCP socket (tcp, tls, ws, wss) share: the connection's two
// addresses, read from the socket once and replaced when a load balancer's PROXY header names
// the device's own.
#pragma once

#include <string>
#include <utility>

#include <boost/asio/ip/tcp.hpp>

#include "transport/stream.hpp"

namespace iotgw::transport {

// "ip:port", with brackets around IPv6 addresses.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

class AddressedStream : public Stream {
 public:
  std::string remote_address() const final { return remote_; }
  std::string local_address() const final { return local_; }
  void set_addresses(std::string remote, std::string local) final {
    remote_ = std::move(remote);
    local_ = std::move(local);
  }

 protected:
  // Before the socket moves into the stream's layers: they may not show it again.
  explicit AddressedStream(const boost::asio::ip::tcp::socket& socket);
  AddressedStream(std::string remote, std::string local)
      : remote_(std::move(remote)), local_(std::move(local)) {}

 private:
  std::string remote_, local_;
};

}  // namespace iotgw::transport
