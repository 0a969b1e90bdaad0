#include "iotgw/common/https_client.hpp"

#include <openssl/ssl.h>

#include <chrono>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace iotgw::https {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

bool split_url(const std::string& url, std::string& host, std::string& port) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) return false;
  std::string rest = url.substr(scheme.size());
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  host = rest.substr(0, colon);
  port = colon == std::string::npos ? "443" : rest.substr(colon + 1);
  return !host.empty();
}

}  // namespace

struct Client::Connection {
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
};

Client::Client(Target target) : target_(std::move(target)) {}
Client::~Client() = default;

Answer Client::call(const std::string& method, const std::string& path,
                    const std::string& authorization, const std::string& body,
                    const std::string& if_match, int timeout_s) {
  Answer out;
  std::string host, port;
  if (!split_url(target_.url, host, port)) {
    out.error = "the URL must be https://HOST[:PORT], not " + target_.url;
    return out;
  }
  try {
    if (!conn_) {
      auto c = std::make_unique<Connection>();
      if (target_.ca_file.empty()) {
        c->tls.set_default_verify_paths();
      } else {
        c->tls.load_verify_file(target_.ca_file);
      }
      c->tls.set_verify_mode(asio::ssl::verify_peer);
      c->tls.set_verify_callback(asio::ssl::host_name_verification(target_.hostname));
      c->stream.emplace(c->io, c->tls);
      // SNI, as SSL_set_tlsext_host_name would (a macro with a C cast).
      SSL_ctrl(c->stream->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(target_.hostname.c_str()));
      beast::get_lowest_layer(*c->stream).expires_after(std::chrono::seconds(30));
      beast::get_lowest_layer(*c->stream)
          .connect(asio::ip::tcp::resolver(c->io).resolve(host, port));
      c->stream->handshake(asio::ssl::stream_base::client);
      conn_ = std::move(c);
    }
    http::request<http::string_body> req(http::string_to_verb(method),
                                         path + "?api-version=2021-04-12", 11);
    req.set(http::field::host, target_.hostname);
    req.set(http::field::authorization, authorization);
    req.set(http::field::user_agent, "iotgw");
    if (!if_match.empty()) req.set(http::field::if_match, if_match);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json; charset=utf-8");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    auto& stream = *conn_->stream;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(timeout_s));
    http::write(stream, req);
    http::response<http::string_body> res;
    http::read(stream, conn_->buffer, res);
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    if (!res.keep_alive()) conn_.reset();
  } catch (const std::exception& e) {
    out.error = target_.url + ": " + e.what();
    conn_.reset();  // the next call connects afresh
  }
  return out;
}

}  // namespace iotgw::https
