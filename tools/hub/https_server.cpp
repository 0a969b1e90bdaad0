#include "https_server.hpp"

#include <stdexcept>

namespace iotgw::hub {

namespace {

namespace ssl = boost::asio::ssl;

constexpr const char* kJson = "application/json; charset=utf-8";

std::shared_ptr<ssl::context> tls_context(const std::string& cert_file,
                                          const std::string& key_file) {
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  tls->use_certificate_chain_file(cert_file, ec);
  if (ec) throw std::runtime_error("https: certificate " + cert_file + ": " + ec.message());
  tls->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) throw std::runtime_error("https: key " + key_file + ": " + ec.message());
  return tls;
}

http::Response to_http(const ServiceResponse& answer) {
  return {answer.status, answer.body.empty() ? "" : kJson, answer.body, answer.etag};
}

}  // namespace

std::unique_ptr<http::Server> serve_https(const std::string& listen, const std::string& cert_file,
                                          const std::string& key_file, ServiceApi& api,
                                          Logger& log) {
  http::ServerOptions options;
  options.server_name = "iotgw-hub";
  // Twin documents are at most 64 KB and method payloads 128 KB; anything larger is not ours.
  options.body_limit = std::size_t{1024} * 1024;
  options.too_large = to_http({413, R"({"Message":"the body is over 1 MB"})", {}});
  options.idle = std::chrono::seconds(60);
  options.tls = tls_context(cert_file, key_file);
  auto handle = [&api](const http::Request& r, const http::Server::Respond& respond) {
    api.handle({r.method, r.target, r.authorization, r.if_match, r.body},
               [respond](const ServiceResponse& answer) { respond(to_http(answer)); });
  };
  auto server = std::make_unique<http::Server>("https", listen, handle, log, std::move(options));
  server->start();
  log.info("hub", "https listening on " + server->endpoint().address().to_string() + ":" +
                      std::to_string(server->port()));
  return server;
}

}  // namespace iotgw::hub
