#include "client_stream.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>

namespace iotgw::bench {

namespace websocket = boost::beast::websocket;

ClientStream::ClientStream(boost::asio::io_context& io, std::optional<std::string> ws_path,
                           std::shared_ptr<boost::asio::ssl::context> tls)
    : socket_(io), ws_path_(std::move(ws_path)), tls_context_(std::move(tls)) {}

void ClientStream::async_start(const std::string& host, Done done) {
  if (tls_context_) {
    tls_ = std::make_unique<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>>(socket_,
                                                                                     *tls_context_);
    tls_->async_handshake(boost::asio::ssl::stream_base::client, std::move(done));
    return;
  }
  if (!ws_path_) {
    done({});
    return;
  }
  ws_ = std::make_unique<websocket::stream<boost::asio::ip::tcp::socket&>>(socket_);
  ws_->binary(true);
  ws_->set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
    req.set(boost::beast::http::field::sec_websocket_protocol, "mqtt");
  }));
  ws_->async_handshake(host, *ws_path_, std::move(done));
}

void ClientStream::async_write(boost::asio::const_buffer buffer, Handler handler) {
  // One MQTT write, one binary message: a message may hold many packets (MQTT over WebSockets).
  if (ws_) {
    ws_->async_write(buffer, std::move(handler));
  } else if (tls_) {
    boost::asio::async_write(*tls_, buffer, std::move(handler));
  } else {
    boost::asio::async_write(socket_, buffer, std::move(handler));
  }
}

void ClientStream::async_read_some(boost::asio::mutable_buffer buffer, Handler handler) {
  if (ws_) {
    ws_->async_read_some(buffer, std::move(handler));
  } else if (tls_) {
    tls_->async_read_some(buffer, std::move(handler));
  } else {
    socket_.async_read_some(buffer, std::move(handler));
  }
}

void ClientStream::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

}  // namespace iotgw::bench
