#include "transport/tls_stream.hpp"

#include <boost/asio/write.hpp>

#include "transport/tcp_stream.hpp"

namespace iotgw::transport {

TlsStream::TlsStream(boost::asio::ip::tcp::socket socket,
                     std::shared_ptr<boost::asio::ssl::context> ctx,
                     std::chrono::milliseconds handshake_timeout)
    : AddressedStream(socket),
      ctx_(std::move(ctx)),
      stream_(std::move(socket), *ctx_),
      handshake_timer_(stream_.get_executor()),
      handshake_timeout_(handshake_timeout) {
  boost::system::error_code ec;
  stream_.next_layer().set_option(boost::asio::ip::tcp::no_delay(true), ec);
}

void TlsStream::async_start(std::function<void(const boost::system::error_code&)> done) {
  handshake_timer_.expires_after(handshake_timeout_);
  handshake_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the handshake ended first (the stream may be gone)
    boost::system::error_code ignored;
    stream_.next_layer().close(ignored);  // fails the handshake, which reports it
  });
  stream_.async_handshake(boost::asio::ssl::stream_base::server,
                          [this, done = std::move(done)](const boost::system::error_code& ec) {
                            handshake_timer_.cancel();
                            if (!ec) peer_ = verified_peer_certificate(stream_.native_handle());
                            done(ec);
                          });
}

void TlsStream::async_read_some(boost::asio::mutable_buffer buffer, Handler handler) {
  stream_.async_read_some(buffer, std::move(handler));
}

void TlsStream::async_write(boost::asio::const_buffer buffer, Handler handler) {
  boost::asio::async_write(stream_, buffer, std::move(handler));
}

void TlsStream::close() {
  handshake_timer_.cancel();
  boost::system::error_code ec;
  // No TLS close_notify round trip: the connection is being dropped either way.
  stream_.next_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  stream_.next_layer().close(ec);
}

}  // namespace iotgw::transport
