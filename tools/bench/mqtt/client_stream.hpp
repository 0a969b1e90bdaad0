// The byte stream under a bench client: plain TCP, TLS over it, or a WebSocket over TCP (MQTT
// over WebSockets, subprotocol `mqtt`, binary messages), so one client measures each transport.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace iotgw::bench {

class ClientStream {
 public:
  using Done = std::function<void(const boost::system::error_code&)>;
  using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;

  // `ws_path`: speak WebSocket on that path; `tls`: a TLS client with that context (shared by
  // every client of a run: one context, one set of CAs); neither: plain TCP.
  ClientStream(boost::asio::io_context& io, std::optional<std::string> ws_path,
               std::shared_ptr<boost::asio::ssl::context> tls);

  // For opening, binding and connecting before start.
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  // After the TCP connect: the TLS handshake, the WebSocket upgrade, or nothing.
  void async_start(const std::string& host, Done done);
  void async_write(boost::asio::const_buffer buffer, Handler handler);
  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler);
  void close();

 private:
  boost::asio::ip::tcp::socket socket_;
  std::optional<std::string> ws_path_;
  std::unique_ptr<boost::beast::websocket::stream<boost::asio::ip::tcp::socket&>> ws_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
};

}  // namespace iotgw::bench
