// The server side of a TLS listener: certificate and key, TLS 1.2 at least, and client
// certificates verified against a CA when asked for. Built when the topology is planned, so a
// bad file fails --check and a reload instead of a running listener.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace iotgw::transport {

struct TlsServerSettings {
  std::string cert_file, key_file, ca_file;
  enum class ClientCert { none, optional, required } client_cert = ClientCert::none;
  bool tls13_only = false;
  // DTLS 1.2 over datagrams instead of TLS; the certificate is then optional (pre-shared keys).
  bool dtls = false;
};

// Throws std::runtime_error naming the file and OpenSSL's reason.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsServerSettings& settings);

}  // namespace iotgw::transport
