// One UDP socket on one event loop, shared by every peer the kernel steers to it. Each loop binds
// its own socket to the listener's address with SO_REUSEPORT; the kernel hashes a peer's address
// to one of them, so a peer's datagrams always land on the same loop and its session never
// crosses threads. Datagrams are read and written in batches (recvmmsg, sendmmsg) so the cost of
// a system call is shared by many datagrams under load.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace iotgw::transport {

// A peer's address as the kernel gave it: compact, hashable, and printable as "ip:port".
class PeerAddress {
 public:
  PeerAddress() = default;
  PeerAddress(const sockaddr* address, socklen_t size);
  explicit PeerAddress(const boost::asio::ip::udp::endpoint& endpoint);

  const sockaddr* data() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const { return size_; }
  // The bytes that tell peers apart (family, address and port), for the peer table.
  std::string key() const;
  std::string str() const;  // "ip:port", brackets around IPv6
  boost::asio::ip::udp::endpoint endpoint() const;

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

// Whatever a known peer's datagrams go to: a plain session or a DTLS one.
class DatagramPeer {
 public:
  virtual ~DatagramPeer() = default;
  virtual void on_datagram(std::span<const std::uint8_t> datagram) = 0;
  // Nothing came from the peer for the idle timeout; the endpoint has already forgotten it.
  virtual void on_idle() = 0;
};

struct UdpSettings {
  std::size_t max_datagram = std::size_t{4} * 1024;  // larger ones are dropped
  std::chrono::milliseconds idle_timeout{300'000};
  std::size_t queue = 64;  // datagrams a session holds while it is busy; later ones are dropped
  std::chrono::milliseconds handshake_timeout{10'000};  // dtls
};

class UdpEndpoint : public std::enable_shared_from_this<UdpEndpoint> {
 public:
  // A datagram from an address with no session: make one (and add it), or drop the datagram.
  using OnUnknown = std::function<void(const PeerAddress&, std::span<const std::uint8_t>)>;

  // Binds now, so a taken port fails the topology before it commits; throws std::runtime_error
  // with "cannot bind host:port: reason".
  UdpEndpoint(boost::asio::io_context& loop, const std::string& host, std::uint16_t port,
              UdpSettings settings);
  ~UdpEndpoint();
  UdpEndpoint(const UdpEndpoint&) = delete;
  UdpEndpoint& operator=(const UdpEndpoint&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& local_address() const { return local_; }
  const UdpSettings& settings() const { return settings_; }
  boost::asio::io_context& loop() { return loop_; }

  // Starts reading on the endpoint's loop.
  void start(OnUnknown on_unknown);
  // No new sessions from here on; known peers keep being served until they close.
  void stop_new_peers();
  // Closes the socket (posted to the loop): the listener is gone.
  void close();

  // On the endpoint's loop only.
  void add(const PeerAddress& peer, DatagramPeer* session);
  void remove(const PeerAddress& peer, const DatagramPeer* session);
  // Queues one datagram; the queue goes out in batches at the end of this turn of the loop. A
  // full queue drops it, as a full socket buffer would.
  void send(const PeerAddress& peer, std::span<const std::uint8_t> datagram);

  std::size_t peers() const { return peers_.size(); }
  std::uint64_t dropped() const { return dropped_; }

 private:
  struct Known {
    DatagramPeer* session;
    std::chrono::steady_clock::time_point last_heard;
  };
  struct Outgoing {
    PeerAddress to;
    std::size_t offset, size;  // into out_bytes_
  };

  void wait_readable();
  void read_batches();
  void dispatch(const PeerAddress& from, std::span<const std::uint8_t> datagram);
  void schedule_flush();
  void flush();
  void arm_sweep();
  void sweep();

  boost::asio::io_context& loop_;
  boost::asio::ip::udp::socket socket_;
  UdpSettings settings_;
  std::uint16_t port_ = 0;
  std::string local_;
  OnUnknown on_unknown_;
  bool accepting_ = true;
  std::unordered_map<std::string, Known> peers_;
  std::chrono::steady_clock::time_point now_;  // of the batch being read: one clock read each

  std::vector<std::uint8_t> in_bytes_;  // one max_datagram slot per batch entry, allocated once
  std::vector<Outgoing> out_;
  std::vector<std::uint8_t> out_bytes_;
  bool flush_scheduled_ = false;
  bool waiting_writable_ = false;
  std::uint64_t dropped_ = 0;
  boost::asio::steady_timer sweep_timer_;
};

}  // namespace iotgw::transport
