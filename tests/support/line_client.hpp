// A blocking TCP client for the line adapter: what a netcat user would type and read.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace iotgw::test {

class LineClient {
 public:
  explicit LineClient(std::uint16_t port, const std::string& host = "127.0.0.1");
  ~LineClient();
  LineClient(const LineClient&) = delete;
  LineClient& operator=(const LineClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& text);
  bool send_line(const std::string& line) { return send(line + "\n"); }
  // The next line without its newline; nullopt on timeout or when the server closed.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the server closes the connection within the timeout (lines before it are skipped).
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // HELLO and its WELCOME; returns what came back.
  std::optional<std::string> hello(const std::string& device, const std::string& password = "");

 private:
  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

}  // namespace iotgw::test
