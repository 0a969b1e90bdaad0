// What a TLS client's certificate tells the auth stages: its subject CN and SHA-256 thumbprint,
// read only when the certificate verified. Shared by the tls and wss transports.
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace iotgw::transport {

struct PeerCertificate {
  std::string cn;      // subject common name, or empty
  std::string sha256;  // upper-case hex thumbprint, or empty
};

// After a completed server handshake; empty fields when there is no verified certificate.
PeerCertificate verified_peer_certificate(SSL* ssl);

}  // namespace iotgw::transport
