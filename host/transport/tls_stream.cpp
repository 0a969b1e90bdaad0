#include "transport/tls_stream.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>

#include <boost/asio/write.hpp>

#include "transport/tcp_stream.hpp"

namespace iotgw::transport {

TlsStream::TlsStream(boost::asio::ip::tcp::socket socket,
                     std::shared_ptr<boost::asio::ssl::context> ctx,
                     std::chrono::milliseconds handshake_timeout)
    : ctx_(std::move(ctx)),
      stream_(std::move(socket), *ctx_),
      handshake_timer_(stream_.get_executor()),
      handshake_timeout_(handshake_timeout) {
  boost::system::error_code ec;
  remote_ = format_endpoint(stream_.next_layer().remote_endpoint(ec));
  local_ = format_endpoint(stream_.next_layer().local_endpoint(ec));
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
                            if (!ec) read_peer_certificate();
                            done(ec);
                          });
}

void TlsStream::read_peer_certificate() {
  X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
  if (cert == nullptr) return;
  // Only a certificate that verified counts: with client_cert optional, an unverifiable one
  // fails the handshake, so what is here was checked against the CA.
  if (SSL_get_verify_result(stream_.native_handle()) == X509_V_OK) {
    std::array<char, 256> cn{};
    const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn.data(),
                                            static_cast<int>(cn.size()));
    if (n > 0) cn_.assign(cn.data(), static_cast<std::size_t>(n));
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (X509_digest(cert, EVP_sha256(), md.data(), &len) == 1) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      for (unsigned int i = 0; i < len; ++i) {
        thumbprint_ += kHex[md[i] >> 4];
        thumbprint_ += kHex[md[i] & 0x0F];
      }
    }
  }
  X509_free(cert);
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
