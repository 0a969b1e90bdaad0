#include "transport/tls_context.hpp"

#include <stdexcept>

#include "iotgw/common/secret_file.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace iotgw::transport {

namespace {

std::string openssl_reason(const boost::system::system_error& e) {
  // Asio's message for an ssl error is OpenSSL's reason string ("no such file", "key values
  // mismatch"...), which is what an operator needs.
  return e.code().message();
}

constexpr const char* kTls12Ciphers =
    "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES256+SHA384:ECDHE+AES128+SHA256";

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_tls_context(const TlsServerSettings& s) {
  std::shared_ptr<boost::asio::ssl::context> ctx;
  if (s.dtls) {
    SSL_CTX* native = SSL_CTX_new(DTLS_server_method());
    if (native == nullptr) throw std::runtime_error("OpenSSL cannot make a DTLS context");
    ctx = std::make_shared<boost::asio::ssl::context>(native);  // takes ownership
    SSL_CTX_set_min_proto_version(native, DTLS1_2_VERSION);
  } else {
    ctx = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    SSL_CTX_set_min_proto_version(ctx->native_handle(),
                                  s.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  }
  ctx->set_options(boost::asio::ssl::context::default_workarounds |
                   boost::asio::ssl::context::single_dh_use);
  // TLS 1.2: forward-secret key exchange and AEAD or SHA-2 suites only, as IoT Hub's own
  // policy; OpenSSL's default list still offers RSA key exchange and SHA-1 suites. TLS 1.3's
  // suites are all of that kind and stay as OpenSSL sets them. DTLS sets a list of its own.
  if (SSL_CTX_set_cipher_list(ctx->native_handle(), kTls12Ciphers) != 1) {
    throw std::runtime_error("OpenSSL refused the cipher list");
  }
  const auto step = [](const std::string& what, const std::string& file, auto&& f) {
    try {
      f();
    } catch (const boost::system::system_error& e) {
      throw std::runtime_error(what + " " + file + ": " + openssl_reason(e));
    }
  };
  if (!s.dtls || !s.cert_file.empty()) {
    step("certificate", s.cert_file, [&] { ctx->use_certificate_chain_file(s.cert_file); });
    // A private key others can read is no longer private: refused, as every secret file is.
    if (auto refused = refuse_public_file(s.key_file))
      throw std::runtime_error("key " + refused->why);
    step("key", s.key_file,
         [&] { ctx->use_private_key_file(s.key_file, boost::asio::ssl::context::pem); });
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      throw std::runtime_error("key " + s.key_file + " does not match certificate " + s.cert_file);
    }
  }
  if (!s.ca_file.empty()) {
    step("CA file", s.ca_file, [&] { ctx->load_verify_file(s.ca_file); });
  }
  using Mode = TlsServerSettings::ClientCert;
  if (s.client_cert == Mode::required) {
    ctx->set_verify_mode(boost::asio::ssl::verify_peer |
                         boost::asio::ssl::verify_fail_if_no_peer_cert);
  } else if (s.client_cert == Mode::optional) {
    ctx->set_verify_mode(boost::asio::ssl::verify_peer);
  } else {
    ctx->set_verify_mode(boost::asio::ssl::verify_none);
  }
  return ctx;
}

}  // namespace iotgw::transport
