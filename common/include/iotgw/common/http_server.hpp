// A small HTTP/1.1 server, plain or over TLS: the gateway's admin endpoint, the hub's /metrics and
// the hub's service API. Boost.Beast on a thread of its own, so a busy event loop cannot starve
// it. One request at a time per connection, kept alive between requests. What a request means is
// the handler's business; it may answer later, from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "iotgw/common/log.hpp"

namespace iotgw::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string authorization;
  std::string if_match;
  std::string body;
  // The path without the query.
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct Response {
  Response() = default;
  Response(int status_, std::string content_type_, std::string body_, std::string etag_ = {})
      : status(status_),
        content_type(std::move(content_type_)),
        body(std::move(body_)),
        etag(std::move(etag_)) {}

  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";  // empty: no Content-Type
  std::string body;
  std::string etag;  // quoted, or empty: no ETag
};

struct ServerOptions {
  std::string server_name = "iotgw";  // the Server header
  // Operators' requests carry no bodies worth more than this.
  std::size_t body_limit = std::size_t{64} * 1024;
  // The answer to a body over body_limit; the connection closes after it.
  Response too_large{413, "text/plain; charset=utf-8", "the body is over 64 KB\n"};
  std::chrono::seconds idle{30};  // between requests, and for one to arrive whole
  // Null: plain HTTP. Otherwise every connection starts with a TLS handshake under it.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class Server {
 public:
  using Respond = std::function<void(Response)>;
  using Handler = std::function<void(const Request&, Respond)>;

  // Binds `listen` ("host:port"; port 0 picks one, see endpoint()); throws std::runtime_error
  // naming `what` and the address when it cannot. `what` also tags the server's log lines.
  Server(const std::string& what, const std::string& listen, Handler handler, Logger& log,
         ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const { return endpoint_.port(); }
  const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }  // as bound
  void start();  // serves on its own thread until stop() or destruction
  void stop();   // any thread but its own; joins

 private:
  void accept();

  std::string what_;
  Handler handler_;
  Logger& log_;
  ServerOptions options_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::thread thread_;
};

}  // namespace iotgw::http
