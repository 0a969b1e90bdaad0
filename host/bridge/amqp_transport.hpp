// The bytes of one AMQP connection: Proton's connection_driver over an Asio TCP socket on one
// event loop (no Proton thread, no locks), Proton's timer ticks, and reconnecting with
// exponential backoff and jitter when the connection is lost. What the connection carries is the
// handler's business: the transport dispatches Proton's events to it and says when the
// connection was lost.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/io/connection_driver.hpp>

#include "iotgw/common/log.hpp"

namespace iotgw::bridge {

class AmqpTransport {
 public:
  struct Hooks {
    // The options of each new connection, the handler among them: asked at every connect, so
    // credentials minted for it are fresh.
    std::function<proton::connection_options()> options;
    // The connection is gone (the driver with it) and a reconnect is scheduled: forget its
    // links. Not called after stop().
    std::function<void(const std::string& why)> lost;
    // After every pump: the handler's counts may have moved.
    std::function<void()> pumped;
    // Held while a connection's TLS is set up or torn down: Proton's SSL domain and session
    // setup are not safe on two threads at once, and each loop has connections of its own.
    std::shared_ptr<std::mutex> tls_lock;
  };

  AmqpTransport(boost::asio::io_context& loop, std::string host, std::string port, Logger& log,
                Hooks hooks);
  AmqpTransport(const AmqpTransport&) = delete;
  AmqpTransport& operator=(const AmqpTransport&) = delete;

  // Connects. Every pending operation keeps `owner` alive (the object that holds this transport
  // and the handler), so neither goes while Asio may still call back into them.
  void start(std::weak_ptr<void> owner);
  // Closes the connection politely (the close frame goes out, then the socket closes) and
  // stops reconnecting.
  void stop();
  // Moves bytes between the socket and the driver and dispatches Proton's events.
  void pump();
  // A pump later in this turn of the loop: whatever the handler queued meanwhile goes out in
  // one write, instead of a dispatch and a send() each.
  void schedule_pump();
  std::unique_lock<std::mutex> lock_tls() const;
  void drop_driver();

  // The handler saw the connection open: the next loss starts the backoff afresh.
  void opened();
  // What the peer or the transport said before the connection ended; lost() prefers it to
  // what the socket saw.
  void set_close_reason(std::string why) { close_reason_ = std::move(why); }

  bool is_open() const { return open_; }
  bool stopped() const { return stopped_; }
  // The connection being served; only while is_open().
  proton::connection connection() { return driver_->connection(); }
  const std::string& endpoint() const { return endpoint_; }

 private:
  void connect();
  void arm_tick();
  void lost(const std::string& reason);
  void read();
  void close_socket();

  boost::asio::io_context& loop_;
  std::string host_, port_, endpoint_;
  Logger& log_;
  Hooks hooks_;
  std::weak_ptr<void> owner_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;  // Proton's ticks and the reconnect backoff
  std::unique_ptr<proton::io::connection_driver> driver_;
  bool open_ = false, reading_ = false, writing_ = false, stopped_ = false;
  bool pump_scheduled_ = false;
  static constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
  std::vector<char> in_, out_;      // the one read and the one write in flight
  std::int64_t tick_armed_ms_ = 0;  // when timer_ wakes Proton's tick; 0: not armed for it
  std::string close_reason_;
  std::chrono::milliseconds backoff_{100};
};

}  // namespace iotgw::bridge
