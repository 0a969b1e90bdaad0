#include "iotgw/common/http_server.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace iotgw::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// What every connection of one server shares; the server outlives its connections' work.
struct Shared {
  const std::string& what;
  const Server::Handler& handler;
  const ServerOptions& options;
  Logger& log;
};

// One connection: (handshake,) then read a request, answer it, and read the next.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(Stream stream, const Shared& shared) : stream_(std::move(stream)), shared_(shared) {}

  void start() {
    asio::dispatch(stream_.get_executor(),
                   [self = this->shared_from_this()] { self->handshake(); });
  }

 private:
  void handshake() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
      stream_.async_handshake(
          asio::ssl::stream_base::server, [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) {
              self->shared_.log.debug(self->shared_.what, "TLS handshake failed: " + ec.message());
              return;
            }
            self->read();
          });
    } else {
      read();
    }
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(shared_.options.body_limit);
    beast::get_lowest_layer(stream_).expires_after(shared_.options.idle);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_read(ec);
                      });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream) {
      close();
      return;
    }
    if (ec) {
      if (ec == bhttp::error::body_limit) {
        keep_alive_ = false;
        write(shared_.options.too_large);
      }
      return;
    }
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    Request r{std::string(req.method_string()), std::string(req.target()),
              std::string(req[bhttp::field::authorization]),
              std::string(req[bhttp::field::if_match]), req.body()};
    // The answer may come from another thread: back onto this connection's strand.
    shared_.handler(r, [self = this->shared_from_this()](Response response) {
      asio::post(self->stream_.get_executor(),
                 [self, response = std::move(response)]() mutable { self->write(response); });
    });
  }

  void write(const Response& response) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), version_);
    res->set(bhttp::field::server, shared_.options.server_name);
    if (!response.content_type.empty()) res->set(bhttp::field::content_type, response.content_type);
    if (!response.etag.empty()) res->set(bhttp::field::etag, response.etag);
    res->body() = response.body;
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    bhttp::async_write(stream_, *res,
                       [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                         if (ec) return;
                         if (self->keep_alive_) {
                           self->read();
                         } else {
                           self->close();
                         }
                       });
  }

  void close() {
    if constexpr (kTls) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  Stream stream_;
  Shared shared_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

tcp::endpoint parse_endpoint(const std::string& what, const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    throw std::runtime_error(what + ": '" + listen + "' is not host:port");
  auto host = listen.substr(0, colon);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error(what + ": bad address '" + host + "'");
  unsigned long port = 65536;
  try {
    port = std::stoul(listen.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (port > 65535) throw std::runtime_error(what + ": bad port in '" + listen + "'");
  return {address, static_cast<unsigned short>(port)};
}

}  // namespace

Server::Server(const std::string& what, const std::string& listen, Handler handler, Logger& log,
               ServerOptions options)
    : what_(what),
      handler_(std::move(handler)),
      log_(log),
      options_(std::move(options)),
      acceptor_(io_) {
  const auto endpoint = parse_endpoint(what, listen);
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(what + ": cannot bind " + listen + ": " + ec.message());
  endpoint_ = acceptor_.local_endpoint();
}

Server::~Server() {
  stop();
}

void Server::start() {
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

void Server::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

void Server::accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        log_.warn(what_, "accept failed: " + ec.message());
        accept();
      }
      return;
    }
    const Shared shared{what_, handler_, options_, log_};
    if (options_.tls) {
      std::make_shared<Session<TlsStream>>(TlsStream(std::move(socket), *options_.tls), shared)
          ->start();
    } else {
      std::make_shared<Session<PlainStream>>(PlainStream(std::move(socket)), shared)->start();
    }
    accept();
  });
}

}  // namespace iotgw::http
