// Accepts TCP connections on one loop. Every loop binds its own socket to the same address with
// SO_REUSEPORT, so the kernel spreads new connections across loops without a shared accept lock.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace iotgw::transport {

class TcpAcceptor : public std::enable_shared_from_this<TcpAcceptor> {
 public:
  using OnAccept = std::function<void(boost::asio::ip::tcp::socket)>;

  // Binds and listens now (so the caller learns of a taken port before committing to a
  // topology); throws std::runtime_error with "cannot bind host:port: reason".
  TcpAcceptor(boost::asio::io_context& loop, const std::string& host, std::uint16_t port);

  std::uint16_t port() const { return port_; }
  // Starts the accept loop on the acceptor's own loop.
  void start(OnAccept on_accept);
  // Stops accepting (posted to the loop); connections already accepted are not touched.
  void stop();

 private:
  void accept_next();

  boost::asio::io_context& loop_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_;  // after an accept error (EMFILE...): wait, do not spin
  std::uint16_t port_ = 0;
  OnAccept on_accept_;
};

}  // namespace iotgw::transport
