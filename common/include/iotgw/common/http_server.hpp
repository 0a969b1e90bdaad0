// A small plain-HTTP/1.1 server for operators' endpoints (the gateway's admin endpoint, the hub's
// /metrics): Boost.Beast on a thread of its own, so a busy event loop cannot starve it. One
// request at a time per connection, kept alive between requests. What a request means is the
// handler's business; it may answer later, from any thread.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "iotgw/common/log.hpp"

namespace iotgw::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string authorization;
  std::string body;
  // The path without the query.
  std::string path() const { return target.substr(0, target.find('?')); }
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class Server {
 public:
  using Respond = std::function<void(Response)>;
  using Handler = std::function<void(const Request&, Respond)>;

  // Binds `listen` ("host:port"; port 0 picks one, see port()); throws std::runtime_error naming
  // `what` and the address when it cannot.
  Server(const std::string& what, const std::string& listen, Handler handler, Logger& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const { return port_; }
  void start();  // serves on its own thread until stop() or destruction
  void stop();   // any thread but its own; joins

 private:
  void accept();

  std::string what_;
  Handler handler_;
  Logger& log_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread thread_;
};

}  // namespace iotgw::http
