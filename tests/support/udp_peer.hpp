// One UDP peer (a socket of its own, so its own source port) talking to a listener on
// 127.0.0.1: raw datagrams out, whole datagrams back, for the udp, dtls and coap tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace iotgw::test {

class UdpPeer {
 public:
  explicit UdpPeer(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }
  ~UdpPeer() { ::close(fd_); }
  UdpPeer(const UdpPeer&) = delete;
  UdpPeer& operator=(const UdpPeer&) = delete;

  void send(const std::string& datagram) const {
    ASSERT_EQ(::send(fd_, datagram.data(), datagram.size(), 0),
              static_cast<ssize_t>(datagram.size()));
  }
  // The next datagram, whole, or nullopt when none comes in time.
  std::optional<std::string> receive(
      std::chrono::milliseconds wait = std::chrono::seconds(3)) const {
    timeval tv{static_cast<time_t>(wait.count() / 1000),
               static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
    if (wait.count() <= 0) tv.tv_usec = 1;  // zero would mean: wait forever
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::array<char, 65536> buf{};
    const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    return std::string(buf.data(), static_cast<std::size_t>(n));
  }

 private:
  int fd_;
};

}  // namespace iotgw::test
