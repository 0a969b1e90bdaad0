// A byte stream under one device connection. TCP today; TLS and WebSocket streams implement the
// same interface, so a Connection (and so every adapter) never knows which one it runs on.
#pragma once

#include <functional>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>

namespace iotgw::transport {

class Stream {
 public:
  using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;

  virtual ~Stream() = default;
  // Before the first read: a TLS handshake or WebSocket upgrade; TCP completes at once.
  virtual void async_start(std::function<void(const boost::system::error_code&)> done) = 0;
  virtual void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) = 0;
  // Writes the whole buffer or fails.
  virtual void async_write(boost::asio::const_buffer buffer, Handler handler) = 0;
  virtual void close() = 0;

  virtual std::string remote_address() const = 0;
  virtual std::string local_address() const = 0;
  virtual bool tls() const { return false; }
  virtual std::string cert_subject_cn() const { return {}; }
  virtual std::string cert_sha256() const { return {}; }
};

}  // namespace iotgw::transport
