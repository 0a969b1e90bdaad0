#include "transport/peer_certificate.hpp"

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <array>
#include <memory>

namespace iotgw::transport {

PeerCertificate verified_peer_certificate(SSL* ssl) {
  PeerCertificate out;
  const std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl),
                                                         &X509_free);
  // Only a certificate that verified counts: with client_cert optional, an unverifiable one
  // fails the handshake, so what is here was checked against the CA.
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return out;
  std::array<char, 256> cn{};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName,
                                          cn.data(), static_cast<int>(cn.size()));
  if (n > 0) out.cn.assign(cn.data(), static_cast<std::size_t>(n));
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md.data(), &len) == 1) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned int i = 0; i < len; ++i) {
      out.sha256 += kHex[md[i] >> 4];
      out.sha256 += kHex[md[i] & 0x0F];
    }
  }
  return out;
}

}  // namespace iotgw::transport
