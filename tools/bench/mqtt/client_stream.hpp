// The byte stream under a bench client: plain TCP, or a WebSocket over it (MQTT over
// WebSockets, subprotocol `mqtt`, binary messages), so one client measures either transport.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace iotgw::bench {

class ClientStream {
 public:
  using Done = std::function<void(const boost::system::error_code&)>;
  using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;

  // `ws_path`: speak WebSocket on that path; nullopt: plain TCP.
  ClientStream(boost::asio::io_context& io, std::optional<std::string> ws_path);

  // For opening, binding and connecting before start.
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  // After the TCP connect: the WebSocket upgrade, or nothing.
  void async_start(const std::string& host, Done done);
  void async_write(boost::asio::const_buffer buffer, Handler handler);
  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler);
  void close();

 private:
  boost::asio::ip::tcp::socket socket_;
  std::optional<std::string> ws_path_;
  std::unique_ptr<boost::beast::websocket::stream<boost::asio::ip::tcp::socket&>> ws_;
};

}  // namespace iotgw::bench
