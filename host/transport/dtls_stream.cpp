#include "transport/dtls_stream.hpp"

#include <openssl/err.h>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>

namespace iotgw::transport {

namespace {
// The largest plain text one DTLS record carries.
constexpr std::size_t kMaxRecord = std::size_t{16} * 1024;

// A ClientHello in epoch 0: a handshake record (22) whose first message is client_hello (1).
bool starts_a_handshake(std::span<const std::uint8_t> d) {
  return d.size() > 13 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[13] == 1;
}

boost::system::error_code ssl_failure() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return boost::asio::error::connection_reset;
  return {static_cast<int>(e), boost::asio::error::get_ssl_category()};
}
}  // namespace

DtlsStream::DtlsStream(std::shared_ptr<UdpEndpoint> endpoint, PeerAddress peer,
                       std::shared_ptr<const DtlsContext> context, SslPtr ssl, PskLookup psk,
                       Rehello rehello)
    : DatagramStream(std::move(endpoint), peer),
      context_(std::move(context)),
      psk_(std::move(psk)),
      rehello_(std::move(rehello)),
      ssl_(std::move(ssl)),
      retransmit_(std::make_unique<boost::asio::steady_timer>(this->endpoint().loop())),
      deadline_(std::make_unique<boost::asio::steady_timer>(this->endpoint().loop())) {
  channel_.endpoint = &this->endpoint();
  channel_.peer = peer;
  facts_.context = context_.get();
  facts_.peer_key = peer.key();
  facts_.psk = &psk_;
  BIO* bio = make_datagram_bio(&channel_);
  SSL_set_bio(ssl_.get(), bio, bio);  // replaces the gate's
  SSL_set_app_data(ssl_.get(), &facts_);
}

DtlsStream::~DtlsStream() {
  // Nothing may call back into this object through the SSL after it is gone.
  if (ssl_) SSL_set_app_data(ssl_.get(), nullptr);
}

void DtlsStream::async_start(std::function<void(const boost::system::error_code&)> done) {
  started_ = std::move(done);
  deadline_->expires_after(endpoint().settings().handshake_timeout);
  deadline_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || established_ || closed_) return;
    handshake_done(boost::asio::error::timed_out);
  });
  drive();  // the ServerHello flight answers the ClientHello the gate kept
}

void DtlsStream::on_datagram(std::span<const std::uint8_t> datagram) {
  if (closed_) return;
  if (established_ && starts_a_handshake(datagram) && rehello_ && rehello_(peer(), datagram)) {
    closed_ = true;  // a new session has this address now
    fail(boost::asio::error::connection_reset);
    return;
  }
  channel_.incoming = datagram;
  drive();
  channel_.incoming = {};
}

void DtlsStream::drive() {
  if (!established_) {
    const int r = SSL_do_handshake(ssl_.get());
    if (r != 1) {
      const int err = SSL_get_error(ssl_.get(), r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        arm_retransmit();
        return;
      }
      handshake_done(ssl_failure());
      return;
    }
    established_ = true;
    retransmit_->cancel();
    deadline_->cancel();
    certificate_ = verified_peer_certificate(ssl_.get());
    if (const char* id = SSL_get_psk_identity(ssl_.get()); id != nullptr) psk_identity_ = id;
    handshake_done({});
  }
  read_records();
}

void DtlsStream::read_records() {
  std::array<std::uint8_t, kMaxRecord> plain{};
  while (!closed_) {
    const int n = SSL_read(ssl_.get(), plain.data(), static_cast<int>(plain.size()));
    if (n > 0) {
      enqueue({plain.data(), static_cast<std::size_t>(n)});
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
    // close_notify from the peer, or a fatal alert: either way no more datagrams come.
    ERR_clear_error();
    fail(err == SSL_ERROR_ZERO_RETURN
             ? boost::system::error_code(boost::asio::error::eof)
             : boost::system::error_code(boost::asio::error::connection_reset));
    return;
  }
}

void DtlsStream::handshake_done(const boost::system::error_code& ec) {
  if (ec) {
    ERR_clear_error();
    fail(ec);
  }
  if (started_) {
    boost::asio::post(endpoint().loop(),
                      [done = std::exchange(started_, nullptr), ec] { done(ec); });
  }
}

void DtlsStream::arm_retransmit() {
  timeval tv{};
  if (closed_ || DTLSv1_get_timeout(ssl_.get(), &tv) != 1) return;
  retransmit_->expires_after(std::chrono::seconds(tv.tv_sec) +
                             std::chrono::microseconds(tv.tv_usec));
  retransmit_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || established_ || closed_) return;
    // A lost flight: OpenSSL sends it again and doubles its timer, up to its own limit.
    if (DTLSv1_handle_timeout(ssl_.get()) < 0) {
      handshake_done(ssl_failure());
      return;
    }
    arm_retransmit();
  });
}

void DtlsStream::send_datagram(std::span<const std::uint8_t> datagram) {
  if (!established_ || closed_ || datagram.empty()) return;
  if (SSL_write(ssl_.get(), datagram.data(), static_cast<int>(datagram.size())) <= 0) {
    ERR_clear_error();  // too large for a record, or the session broke: lost, as a datagram may be
  }
}

void DtlsStream::close() {
  if (!closed_ && established_) SSL_shutdown(ssl_.get());  // close_notify, best effort
  closed_ = true;
  retransmit_.reset();
  deadline_.reset();
  started_ = nullptr;  // its connection is finishing already
  DatagramStream::close();
}

}  // namespace iotgw::transport
