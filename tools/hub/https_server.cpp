#include "https_server.hpp"

#include <chrono>
#include <stdexcept>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace iotgw::hub {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kIdle = std::chrono::seconds(60);
// Twin documents are at most 64 KB and method payloads 128 KB; anything larger is not ours.
constexpr std::size_t kMaxBody = std::size_t{1024} * 1024;

// One connection: handshake, then read a request, answer it, and read the next.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, asio::ssl::context& tls, ServiceApi& api, Logger& log)
      : stream_(std::move(socket), tls), api_(api), log_(log) {}

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->handshake(); });
  }

 private:
  void handshake() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this()](beast::error_code ec) {
                              if (ec) {
                                self->log_.debug("https", "TLS handshake failed: " + ec.message());
                                return;
                              }
                              self->read();
                            });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxBody);
    beast::get_lowest_layer(stream_).expires_after(kIdle);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream) {
      close();
      return;
    }
    if (ec) {
      if (ec == http::error::body_limit) answer_error(413, "the body is over 1 MB");
      return;
    }
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    ServiceRequest r{std::string(req.method_string()), std::string(req.target()),
                     std::string(req[http::field::authorization]),
                     std::string(req[http::field::if_match]), req.body()};
    // The answer may come from the hub's thread: back onto this connection's strand.
    api_.handle(r, [self = shared_from_this()](ServiceResponse response) {
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response)]() mutable { self->write(response); });
    });
  }

  void answer_error(int status, const std::string& why) {
    keep_alive_ = false;
    write({status, R"({"Message":")" + why + R"("})", {}});
  }

  void write(const ServiceResponse& response) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(response.status), version_);
    res->set(http::field::server, "iotgw-hub");
    if (!response.body.empty()) {
      res->set(http::field::content_type, "application/json; charset=utf-8");
      res->body() = response.body;
    }
    if (!response.etag.empty()) res->set(http::field::etag, response.etag);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (self->keep_alive_) {
                          self->read();
                        } else {
                          self->close();
                        }
                      });
  }

  void close() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  ServiceApi& api_;
  Logger& log_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

tcp::endpoint parse_endpoint(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("--https-listen wants HOST:PORT");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) throw std::runtime_error("--https-listen: bad address '" + listen.substr(0, colon) + "'");
  unsigned long port = 0;
  try {
    port = std::stoul(listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = 65536;
  }
  if (port > 65535) throw std::runtime_error("--https-listen: bad port in '" + listen + "'");
  return {address, static_cast<unsigned short>(port)};
}

}  // namespace

HttpsServer::HttpsServer(const std::string& listen, const std::string& cert_file,
                         const std::string& key_file, ServiceApi& api, Logger& log)
    : api_(api), log_(log), tls_(asio::ssl::context::tls_server), acceptor_(io_) {
  boost::system::error_code ec;
  tls_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  tls_.use_certificate_chain_file(cert_file, ec);
  if (ec) throw std::runtime_error("https: certificate " + cert_file + ": " + ec.message());
  tls_.use_private_key_file(key_file, asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("https: key " + key_file + ": " + ec.message());
  const auto endpoint = parse_endpoint(listen);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("https: cannot listen on " + listen + ": " + ec.message());
  const auto bound = acceptor_.local_endpoint();
  log_.info("hub", "https listening on " + bound.address().to_string() + ":" +
                       std::to_string(bound.port()));
}

HttpsServer::~HttpsServer() {
  stop();
}

void HttpsServer::start() {
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

void HttpsServer::stop() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void HttpsServer::accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<Session>(std::move(s), tls_, api_, log_)->start();
    accept();
  });
}

}  // namespace iotgw::hub
