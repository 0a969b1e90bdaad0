// A byte stream under one device connection: TCP, TLS and WebSocket streams implement it, so a
// Connection (and so every adapter) never knows which one it runs on.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

#include "transport/http_upgrade.hpp"

namespace iotgw::transport {

class Stream {
 public:
  using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;

  virtual ~Stream() = default;
  // Before the first read: a TLS handshake or WebSocket upgrade; TCP completes at once.
  virtual void async_start(std::function<void(const boost::system::error_code&)> done) = 0;
  virtual void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) = 0;
  // Readiness-based reading: a connection waiting this way holds no read buffer, and an idle
  // device's read buffer was most of its memory. Only after read_now reported would_block may
  // the wait start (the reactor is edge-triggered). TLS cannot: its library keeps bytes the
  // socket no longer shows, so it says false and is read with async_read_some.
  virtual bool waits_for_readable() const { return false; }
  // NOLINTNEXTLINE(performance-unnecessary-value-param): overrides take ownership of it
  virtual void async_wait_readable(std::function<void(const boost::system::error_code&)> done) {
    done(boost::asio::error::operation_not_supported);
  }
  virtual std::size_t read_now(boost::asio::mutable_buffer /*buffer*/,
                               boost::system::error_code& ec) {
    ec = boost::asio::error::operation_not_supported;
    return 0;
  }
  // Writes the whole buffer or fails.
  virtual void async_write(boost::asio::const_buffer buffer, Handler handler) = 0;
  // Datagram streams (udp, dtls) keep message boundaries: each read is one datagram and each
  // write goes out at once as one, through send_datagram, with no write queue of its own.
  virtual bool datagrams() const { return false; }
  // The size of the datagram read_now would hand over next (0: none waiting), so a connection
  // reads it into a buffer of its size rather than one for the largest datagram allowed.
  virtual std::size_t next_datagram_size() const { return 0; }
  virtual void send_datagram(std::span<const std::uint8_t> /*datagram*/) {}
  virtual void close() = 0;

  virtual std::string remote_address() const = 0;
  virtual std::string local_address() const = 0;
  // The device's own addresses, named by a load balancer's PROXY header (proxy_reader): what
  // remote_address and local_address say from then on. Set before async_start.
  // NOLINTNEXTLINE(performance-unnecessary-value-param): overrides take ownership of them
  virtual void set_addresses(std::string /*remote*/, std::string /*local*/) {}
  // "tcp", "tls", "ws", "wss", "udp" or "dtls", as auth stages are told (static text).
  virtual std::string_view transport() const = 0;
  virtual bool tls() const { return false; }
  // The request a WebSocket connection was upgraded with, once started; null for tcp and tls.
  virtual std::shared_ptr<const HttpUpgrade> upgrade() const { return nullptr; }
  virtual std::string cert_subject_cn() const { return {}; }
  virtual std::string cert_sha256() const { return {}; }
  // The identity a DTLS handshake with a pre-shared key proved; empty otherwise.
  virtual std::string psk_identity() const { return {}; }
};

}  // namespace iotgw::transport
