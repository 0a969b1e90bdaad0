#include "transport/tcp_acceptor.hpp"

#include <stdexcept>

#include <boost/asio/post.hpp>

#include "transport/shared_bind.hpp"

namespace iotgw::transport {

TcpAcceptor::TcpAcceptor(boost::asio::io_context& loop, const std::string& host, std::uint16_t port)
    : loop_(loop), acceptor_(loop), retry_(loop) {
  bind_shared(acceptor_, host, port);
  boost::system::error_code ec;
  acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot bind " + bind_where(host, port) + ": " + ec.message());
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
