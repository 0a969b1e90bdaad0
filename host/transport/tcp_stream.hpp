// Plain TCP under a connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "transport/stream.hpp"

namespace iotgw::transport {

class TcpStream final : public Stream {
 public:
  explicit TcpStream(boost::asio::ip::tcp::socket socket);

  void async_start(std::function<void(const boost::system::error_code&)> done) override;
  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) override;
  bool waits_for_readable() const override { return true; }
  void async_wait_readable(std::function<void(const boost::system::error_code&)> done) override;
  std::size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) override;
  void async_write(boost::asio::const_buffer buffer, Handler handler) override;
  void close() override;
  std::string remote_address() const override { return remote_; }
  std::string local_address() const override { return local_; }
  void set_addresses(std::string remote, std::string local) override {
    remote_ = std::move(remote);
    local_ = std::move(local);
  }
  std::string_view transport() const override { return "tcp"; }

 private:
  boost::asio::ip::tcp::socket socket_;
  std::string remote_;
  std::string local_;
};

// "ip:port", with brackets around IPv6 addresses.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& ep);

}  // namespace iotgw::transport
