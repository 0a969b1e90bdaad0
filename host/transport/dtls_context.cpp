#include "transport/dtls_context.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace iotgw::transport {

namespace {

// CoAP's mandatory suites (RFC 7252 9.1.3) first, then the usual AEAD ones.
constexpr const char* kCiphers =
    "PSK-AES128-CCM8:ECDHE-ECDSA-AES128-CCM8:PSK-AES128-CCM:PSK-AES128-GCM-SHA256:"
    "PSK-AES256-GCM-SHA384:ECDHE-PSK-AES128-CBC-SHA256:PSK-AES128-CBC-SHA256:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-CCM:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305";

// A datagram a DTLS record must fit in: an Ethernet MTU less IP and UDP headers, and less than
// the 1280 IPv6 guarantees would fragment handshake flights needlessly on most links.
constexpr long kMtu = 1400;

const DtlsPeerFacts* facts_of(SSL* ssl) {
  return static_cast<const DtlsPeerFacts*>(SSL_get_app_data(ssl));
}

int generate_cookie(SSL* ssl, unsigned char* cookie, unsigned int* size) {
  const auto* facts = facts_of(ssl);
  if (facts == nullptr || facts->context == nullptr) return 0;
  const auto c = facts->context->cookie(facts->peer_key);
  std::memcpy(cookie, c.data(), c.size());
  *size = static_cast<unsigned int>(c.size());
  return 1;
}

int verify_cookie(SSL* ssl, const unsigned char* cookie, unsigned int size) {
  const auto* facts = facts_of(ssl);
  if (facts == nullptr || facts->context == nullptr) return 0;
  const auto c = facts->context->cookie(facts->peer_key);
  return size == c.size() && CRYPTO_memcmp(cookie, c.data(), c.size()) == 0 ? 1 : 0;
}

unsigned int psk_server(SSL* ssl, const char* identity, unsigned char* psk, unsigned int max) {
  const auto* facts = facts_of(ssl);
  if (facts == nullptr || facts->psk == nullptr || identity == nullptr) return 0;
  const auto key = (*facts->psk)(identity);
  if (!key || key->empty() || key->size() > max) return 0;
  std::copy(key->begin(), key->end(), psk);  // bytes, not a C string
  return static_cast<unsigned int>(key->size());
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

int bio_read(BIO* b, char* out, int size) {
  auto* ch = static_cast<DatagramChannel*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (ch == nullptr || ch->incoming.empty()) {
    BIO_set_retry_read(b);
    return -1;
  }
  // A datagram larger than OpenSSL's buffer is cut, and its record then fails to verify: dropped.
  const auto n = std::min(ch->incoming.size(), static_cast<std::size_t>(std::max(size, 0)));
  std::memcpy(out, ch->incoming.data(), n);
  ch->incoming = {};
  return static_cast<int>(n);
}

int bio_write(BIO* b, const char* in, int size) {
  auto* ch = static_cast<DatagramChannel*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (ch == nullptr || ch->endpoint == nullptr || size < 0) return -1;
  ch->endpoint->send(ch->peer,
                     {reinterpret_cast<const std::uint8_t*>(in), static_cast<std::size_t>(size)});
  return size;
}

long bio_ctrl(BIO* /*b*/, int cmd, long num, void* /*ptr*/) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU: return kMtu;
    case BIO_CTRL_DGRAM_SET_MTU: return num;
    case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD: return 28;  // IPv4 and UDP headers
    default: return 0;
  }
}

int bio_puts(BIO* b, const char* s) {
  return bio_write(b, s, static_cast<int>(std::strlen(s)));
}

// Made once and never changed: OpenSSL's own methods are immutable statics too.
const BIO_METHOD* datagram_method() {
  static const BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "iotgw datagram");
    BIO_meth_set_create(m, bio_create);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_puts(m, bio_puts);
    BIO_meth_set_ctrl(m, bio_ctrl);
    return m;
  }();
  return method;
}

}  // namespace

BIO* make_datagram_bio(DatagramChannel* channel) {
  BIO* b = BIO_new(datagram_method());
  if (b != nullptr) BIO_set_data(b, channel);
  return b;
}

DtlsContext::DtlsContext(const TlsServerSettings& settings) {
  TlsServerSettings s = settings;
  s.dtls = true;
  ssl_ = make_tls_context(s);
  SSL_CTX* ctx = ssl_->native_handle();
  if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1) {
    throw std::runtime_error("no randomness for the DTLS cookie secret");
  }
  if (SSL_CTX_set_cipher_list(ctx, kCiphers) != 1) {
    throw std::runtime_error("this OpenSSL has none of the DTLS cipher suites");
  }
  SSL_CTX_set_options(ctx, SSL_OP_COOKIE_EXCHANGE | SSL_OP_NO_QUERY_MTU);
  // An idle session keeps no record buffers: most CoAP devices say little and seldom.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_cookie_generate_cb(ctx, generate_cookie);
  SSL_CTX_set_cookie_verify_cb(ctx, verify_cookie);
  SSL_CTX_set_psk_server_callback(ctx, psk_server);
  // One read per datagram: the BIO hands over whole datagrams, and DTLS wants them so.
  SSL_CTX_set_read_ahead(ctx, 1);
}

SslPtr DtlsContext::new_ssl() const {
  SslPtr ssl(SSL_new(ssl_->native_handle()), &SSL_free);
  if (!ssl) throw std::runtime_error("SSL_new failed");
  SSL_set_accept_state(ssl.get());
  SSL_set_mtu(ssl.get(), kMtu - 28);
  return ssl;
}

std::array<std::uint8_t, 32> DtlsContext::cookie(std::string_view peer_key) const {
  std::array<std::uint8_t, 32> out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(peer_key.data()), peer_key.size(), out.data(), &size);
  return out;
}

}  // namespace iotgw::transport
