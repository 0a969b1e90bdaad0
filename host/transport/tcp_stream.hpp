// Plain TCP under a connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "transport/addressed_stream.hpp"

namespace iotgw::transport {

class TcpStream final : public AddressedStream {
 public:
  explicit TcpStream(boost::asio::ip::tcp::socket socket);

  void async_start(std::function<void(const boost::system::error_code&)> done) override;
  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) override;
  bool waits_for_readable() const override { return true; }
  void async_wait_readable(std::function<void(const boost::system::error_code&)> done) override;
  std::size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) override;
  void async_write(boost::asio::const_buffer buffer, Handler handler) override;
  void close() override;
  std::string_view transport() const override { return "tcp"; }

 private:
  boost::asio::ip::tcp::socket socket_;
};

}  // namespace iotgw::transport
