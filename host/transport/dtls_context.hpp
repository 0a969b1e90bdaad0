// The server side of a dtls listener: OpenSSL's DTLS 1.2 with certificates (when the listener
// has them) and pre-shared keys (from the listener's authenticators), and a stateless cookie
// exchange (RFC 6347 4.2.1), so a spoofed source address costs the host no state.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "transport/tls_context.hpp"
#include "transport/udp_endpoint.hpp"

namespace iotgw::transport {

// The key for a PSK identity, or nullopt when no authenticator knows it.
using PskLookup = std::function<std::optional<std::string>(std::string_view identity)>;

class DtlsContext;

// What the SSL callbacks need to know about the handshake they serve: the SSL's app data (the
// SSL_CTX's belongs to Boost, which keeps its verify callback there).
struct DtlsPeerFacts {
  const DtlsContext* context = nullptr;  // the cookie secret
  std::string peer_key;                  // PeerAddress::key(): what the cookie binds to
  const PskLookup* psk = nullptr;        // null while only the cookie is checked
};

using SslPtr = std::unique_ptr<SSL, decltype(&SSL_free)>;

class DtlsContext {
 public:
  // Throws std::runtime_error naming the file and OpenSSL's reason. Without cert_file, DTLS
  // serves pre-shared keys alone.
  explicit DtlsContext(const TlsServerSettings& settings);
  DtlsContext(const DtlsContext&) = delete;
  DtlsContext& operator=(const DtlsContext&) = delete;

  SSL_CTX* native() const { return ssl_->native_handle(); }
  // A new server SSL for this context, in accept state.
  SslPtr new_ssl() const;
  // HMAC-SHA256 of the peer address under this context's secret.
  std::array<std::uint8_t, 32> cookie(std::string_view peer_key) const;

 private:
  std::shared_ptr<boost::asio::ssl::context> ssl_;
  std::array<std::uint8_t, 32> secret_{};  // random per listener plan: cookies never outlive it
};

// An OpenSSL BIO over one peer's datagrams. Reads hand over the datagram being processed, once;
// writes go out through the endpoint, one datagram each, so a handshake flight keeps OpenSSL's
// own datagram boundaries.
struct DatagramChannel {
  UdpEndpoint* endpoint = nullptr;
  PeerAddress peer;
  std::span<const std::uint8_t> incoming;
};
// The BIO reads and writes through `channel`, which must outlive it.
BIO* make_datagram_bio(DatagramChannel* channel);

}  // namespace iotgw::transport
