#include "rest_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace iotgw::hub {

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

RestAnswer rest_call(const RestTarget& t, const std::string& method, const std::string& path,
                     const std::string& body, const std::string& if_match) {
  RestAnswer out;
  std::string host, port;
  if (!split_url(t.url, host, port)) {
    out.error = "the URL must be https://HOST[:PORT], not " + t.url;
    return out;
  }
  try {
    asio::io_context io;
    asio::ssl::context tls(asio::ssl::context::tls_client);
    if (t.ca_file.empty()) {
      tls.set_default_verify_paths();
    } else {
      tls.load_verify_file(t.ca_file);
    }
    tls.set_verify_mode(asio::ssl::verify_peer);
    // The certificate names the hub, whatever address reaches it (127.0.0.1 in development).
    tls.set_verify_callback(asio::ssl::host_name_verification(t.hostname));
    beast::ssl_stream<beast::tcp_stream> stream(io, tls);
    // SNI, as SSL_set_tlsext_host_name would (a macro with a C cast).
    SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(t.hostname.c_str()));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    beast::get_lowest_layer(stream).connect(asio::ip::tcp::resolver(io).resolve(host, port));
    stream.handshake(asio::ssl::stream_base::client);

    http::request<http::string_body> req(http::string_to_verb(method),
                                         path + "?api-version=2021-04-12", 11);
    req.set(http::field::host, t.hostname);
    req.set(http::field::authorization, t.token);
    req.set(http::field::user_agent, "iotgw-hub");
    if (!if_match.empty()) req.set(http::field::if_match, if_match);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json; charset=utf-8");
      req.body() = body;
    }
    req.prepare_payload();
    // Long enough for a method call's own timeout (at most 300 s) and then some.
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(330));
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    beast::error_code ignored;
    stream.shutdown(ignored);
  } catch (const std::exception& e) {
    out.error = t.url + ": " + e.what();
  }
  return out;
}

}  // namespace iotgw::hub
