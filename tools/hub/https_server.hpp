// The hub's HTTPS listener (IoT Hub serves its service API on 443): Boost.Beast over TLS on a
// thread of its own, one request at a time per connection, kept alive between requests. What a
// request means is ServiceApi's business; this only speaks HTTP.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "iotgw/common/log.hpp"
#include "service_api.hpp"

namespace iotgw::hub {

class HttpsServer {
 public:
  // Binds `listen` ("host:port"; port 0 picks one, logged) with the certificate and key; throws
  // std::runtime_error saying what failed.
  HttpsServer(const std::string& listen, const std::string& cert_file, const std::string& key_file,
              ServiceApi& api, Logger& log);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  void start();  // serves on its own thread until stop()
  void stop();   // any thread; joins

 private:
  void accept();

  ServiceApi& api_;
  Logger& log_;
  boost::asio::io_context io_;
  boost::asio::ssl::context tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace iotgw::hub
