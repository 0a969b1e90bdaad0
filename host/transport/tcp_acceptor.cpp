#include "transport/tcp_acceptor.hpp"

#include <sys/socket.h>

#include <stdexcept>

#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/post.hpp>

namespace iotgw::transport {

namespace {
using reuse_port = boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
}

TcpAcceptor::TcpAcceptor(boost::asio::io_context& loop, const std::string& host, std::uint16_t port)
    : loop_(loop), acceptor_(loop), retry_(loop) {
  const std::string where =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("cannot bind " + where + ": not an IP address");
  const boost::asio::ip::tcp::endpoint ep(address, port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.set_option(reuse_port(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot bind " + where + ": " + ec.message());
  port_ = acceptor_.local_endpoint().port();
}

void TcpAcceptor::start(OnAccept on_accept) {
  boost::asio::post(loop_, [self = shared_from_this(), cb = std::move(on_accept)]() mutable {
    self->on_accept_ = std::move(cb);
    self->accept_next();
  });
}

void TcpAcceptor::stop() {
  boost::asio::post(loop_, [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    self->on_accept_ = nullptr;
    self->retry_.cancel();
  });
}

void TcpAcceptor::accept_next() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     boost::asio::ip::tcp::socket socket) {
    if (!self->acceptor_.is_open() || !self->on_accept_) return;
    if (!ec) {
      self->on_accept_(std::move(socket));
      self->accept_next();
      return;
    }
    // EMFILE and friends must not end the accept loop, nor spin it: try again shortly.
    self->retry_.expires_after(std::chrono::milliseconds(50));
    self->retry_.async_wait([self](const boost::system::error_code& wait_ec) {
      if (!wait_ec && self->acceptor_.is_open()) self->accept_next();
    });
  });
}

}  // namespace iotgw::transport
