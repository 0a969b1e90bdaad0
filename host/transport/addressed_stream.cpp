#include "transport/addressed_stream.hpp"

namespace iotgw::transport {

std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

AddressedStream::AddressedStream(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  remote_ = format_endpoint(socket.remote_endpoint(ec));
  local_ = format_endpoint(socket.local_endpoint(ec));
}

}  // namespace iotgw::transport
