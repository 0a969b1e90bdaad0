// One UDP peer's session as a Stream, so a Connection (and so any adapter) runs over datagrams as
// it runs over TCP: each read yields one datagram, each write sends one. Datagrams that arrive
// while the connection is busy wait in a short queue; past it they are dropped, as the network
// may drop them anyway and every datagram protocol copes with loss.
#pragma once

#include <memory>
#include <vector>

#include "transport/stream.hpp"
#include "transport/udp_endpoint.hpp"

namespace iotgw::transport {

class DatagramStream : public Stream, public DatagramPeer {
 public:
  // Adds itself to the endpoint's peers; call on the endpoint's loop.
  DatagramStream(std::shared_ptr<UdpEndpoint> endpoint, PeerAddress peer);
  ~DatagramStream() override;
  DatagramStream(const DatagramStream&) = delete;
  DatagramStream& operator=(const DatagramStream&) = delete;

  // Stream
  void async_start(std::function<void(const boost::system::error_code&)> done) override;
  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) override;
  bool waits_for_readable() const override { return true; }
  void async_wait_readable(std::function<void(const boost::system::error_code&)> done) override;
  std::size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) override;
  void async_write(boost::asio::const_buffer buffer, Handler handler) override;
  bool datagrams() const override { return true; }
  std::size_t next_datagram_size() const override {
    return queue_.empty() ? 0 : queue_.front().size();
  }
  void send_datagram(std::span<const std::uint8_t> datagram) override;
  void close() override;
  std::string remote_address() const override { return peer_.str(); }
  std::string local_address() const override { return endpoint_->local_address(); }
  std::string_view transport() const override { return "udp"; }

  // DatagramPeer
  void on_datagram(std::span<const std::uint8_t> datagram) override;
  void on_idle() override;

 protected:
  // Hands one datagram (plain text, for DTLS) to the connection, or drops it when the queue is
  // full.
  void enqueue(std::span<const std::uint8_t> datagram);
  // Sends bytes as they are (ciphertext, for DTLS).
  void send_raw(std::span<const std::uint8_t> datagram);
  // Ends reading with `ec` (the peer closed, the handshake failed).
  void fail(const boost::system::error_code& ec);
  UdpEndpoint& endpoint() { return *endpoint_; }
  const PeerAddress& peer() const { return peer_; }

 private:
  void wake(const boost::system::error_code& ec);

  std::shared_ptr<UdpEndpoint> endpoint_;
  PeerAddress peer_;
  // A vector, not a deque: an empty deque still holds its first 512-byte block, and an idle
  // session's memory is what a gateway for many devices pays per device.
  std::vector<std::vector<std::uint8_t>> queue_;
  std::function<void(const boost::system::error_code&)> waiter_;
  bool known_ = true;                // in the endpoint's table
  boost::system::error_code ended_;  // set once no datagram will come any more
};

}  // namespace iotgw::transport
