// A small HTTPS client (Boost.Beast over OpenSSL) for the tools that call a hub's service API:
// one kept-alive connection, one request at a time, the server's certificate checked against the
// hub's name (IoT Hub's carries it, whatever address reaches the hub).
#pragma once

#include <memory>
#include <string>

namespace iotgw::https {

struct Target {
  std::string url;       // https://host[:port]
  std::string ca_file;   // trusted CAs; empty: the system's
  std::string hostname;  // SNI, the certificate's name and the Host header
};

struct Answer {
  int status = 0;
  std::string body;
  std::string error;  // set when no answer came (connect, TLS, a broken connection)
};

class Client {
 public:
  explicit Client(Target target);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request, connecting first if there is no connection; throws nothing. A request
  // waits at most `timeout_s` for its answer.
  Answer call(const std::string& method, const std::string& path, const std::string& authorization,
              const std::string& body, const std::string& if_match = {}, int timeout_s = 330);

 private:
  struct Connection;
  Target target_;
  std::unique_ptr<Connection> conn_;
};

}  // namespace iotgw::https
