#include "topology/listener.hpp"

#include <boost/asio/post.hpp>

#include "runtime/session.hpp"
#include "transport/tcp_stream.hpp"

namespace iotgw::topology {

Listener::Listener(ListenerPlan plan, bridge::Bridge& bridge, Logger& log)
    : plan_(std::move(plan)), log_(log) {
  shared_ = std::make_shared<runtime::ListenerShared>(plan_.spec.name, plan_.adapter,
                                                      plan_.pipeline, bridge, log);
}

void Listener::bind(transport::EventLoops& loops) {
  const auto& ep = plan_.spec.bind;
  std::uint16_t port = ep.port;
  try {
    for (std::size_t i = 0; i < loops.size(); ++i) {
      // Port 0 picks a port once; every other loop joins that one.
      auto acceptor = std::make_shared<transport::TcpAcceptor>(loops.at(i), ep.host, port);
      port = acceptor->port();
      acceptors_.emplace_back(&loops.at(i), std::move(acceptor));
    }
  } catch (const std::exception& e) {
    acceptors_.clear();
    throw std::runtime_error("listener '" + name() + "': " + e.what());
  }
  port_ = port;
}

void Listener::start() {
  for (auto& [loop, acceptor] : acceptors_) {
    acceptor->start([weak = weak_from_this(), loop = loop](boost::asio::ip::tcp::socket s) {
      if (auto self = weak.lock()) self->accept(*loop, std::move(s));
    });
  }
  const auto& ep = plan_.spec.bind;
  log_.info("listener " + name(), "listening on " + config::Endpoint{ep.host, port_}.str() + " (" +
                                      plan_.spec.transport + ", adapter " +
                                      plan_.spec.adapter.name + ", " +
                                      std::to_string(acceptors_.size()) + " loops)");
}

void Listener::stop_accepting() {
  for (auto& [loop, acceptor] : acceptors_) acceptor->stop();
  acceptors_.clear();
}

void Listener::accept(boost::asio::io_context& loop, boost::asio::ip::tcp::socket socket) {
  if (count_.fetch_add(1) >= plan_.spec.max_connections) {
    count_.fetch_sub(1);
    boost::system::error_code ec;
    socket.close(ec);
    log_.warn("listener " + name(), "connection refused: max_connections (" +
                                        std::to_string(plan_.spec.max_connections) + ") reached");
    return;
  }
  auto conn = std::make_shared<transport::Connection>(
      loop, std::make_unique<transport::TcpStream>(std::move(socket)), log_, "listener " + name());
  {
    std::lock_guard lock(live_mutex_);
    live_.emplace(conn.get(), conn);
  }
  auto session = std::make_shared<runtime::Session>(shared_);
  conn->start(session, [self = shared_from_this(), key = conn.get()] {
    {
      std::lock_guard lock(self->live_mutex_);
      self->live_.erase(key);
    }
    self->count_.fetch_sub(1);
  });
}

template <class F>
void Listener::for_each_connection(F&& f) {
  std::vector<std::shared_ptr<transport::Connection>> conns;
  {
    std::lock_guard lock(live_mutex_);
    for (const auto& [key, conn] : live_) conns.push_back(conn);
  }
  for (auto& c : conns) boost::asio::post(c->loop(), [c, f] { f(*c); });
}

void Listener::drain() {
  for_each_connection([](transport::Connection& c) { c.drain(); });
}

void Listener::close_all(const std::string& reason) {
  for_each_connection([reason](transport::Connection& c) { c.abort(reason); });
}

void Listener::set_pipeline(std::shared_ptr<const runtime::Pipeline> pipeline) {
  shared_->pipeline.store(std::move(pipeline));
}

}  // namespace iotgw::topology
