#include "topology/listener.hpp"

#include <latch>

#include <boost/asio/post.hpp>

#include "runtime/session.hpp"
#include "transport/datagram_stream.hpp"
#include "transport/dtls_stream.hpp"
#include "transport/tcp_stream.hpp"
#include "transport/tls_stream.hpp"
#include "transport/websocket_stream.hpp"

namespace iotgw::topology {

namespace {

// As long as a TLS handshake may take: a balancer sends its header with the connection's first
// bytes, so only a peer that is not one (or a scanner) is ever this slow.
constexpr std::chrono::seconds kProxyHeaderTimeout{10};

}  // namespace

Listener::Listener(ListenerPlan plan, transport::EventLoops& loops, bridge::Bridge& bridge,
                   Logger& log, metrics::Registry& registry,
                   std::shared_ptr<transport::BufferBudget> budget)
    : plan_(std::move(plan)), loops_(loops), log_(log), budget_(std::move(budget)) {
  shared_ = std::make_shared<runtime::ListenerShared>(
      plan_.spec.name, plan_.adapter, plan_.pipeline, loops.size(), bridge, log, registry,
      runtime::DeviceRateLimits{static_cast<double>(plan_.spec.device_message_rate),
                                static_cast<double>(plan_.spec.device_byte_rate)});
  tls_.assign(loops.size(), plan_.tls);
  const auto& spec = plan_.spec;
  admission_ = std::make_shared<runtime::Admission>(
      runtime::AdmissionLimits{spec.max_connections_per_address,
                               static_cast<double>(spec.max_connection_rate),
                               spec.max_pending_handshakes},
      &shared_->metrics.pending);
  settings_ = connection_settings();
}

Listener::~Listener() {
  for (auto& endpoint : endpoints_) endpoint->close();
}

bool Listener::datagrams() const {
  return plan_.spec.transport == "udp" || plan_.spec.transport == "dtls";
}

void Listener::bind() {
  const auto& ep = plan_.spec.bind;
  std::uint16_t port = ep.port;
  try {
    for (std::size_t i = 0; i < loops_.size() && datagrams(); ++i) {
      const auto& udp = plan_.spec.udp;
      transport::UdpSettings settings{udp.max_datagram, udp.idle_timeout, udp.queue,
                                      udp.handshake_timeout};
      auto endpoint =
          std::make_shared<transport::UdpEndpoint>(loops_.at(i), ep.host, port, settings);
      port = endpoint->port();
      if (plan_.dtls)
        gates_.push_back(std::make_unique<transport::DtlsGate>(plan_.dtls, *endpoint));
      endpoints_.push_back(std::move(endpoint));
    }
    for (std::size_t i = 0; i < loops_.size() && !datagrams(); ++i) {
      // Port 0 picks a port once; every other loop joins that one.
      auto acceptor = std::make_shared<transport::TcpAcceptor>(loops_.at(i), ep.host, port);
      port = acceptor->port();
      acceptors_.push_back(std::move(acceptor));
    }
  } catch (const std::exception& e) {
    acceptors_.clear();
    gates_.clear();
    endpoints_.clear();
    throw std::runtime_error("listener '" + name() + "': " + e.what());
  }
  port_ = port;
}

void Listener::start() {
  for (std::size_t i = 0; i < acceptors_.size(); ++i) {
    acceptors_[i]->start([weak = weak_from_this(), i](boost::asio::ip::tcp::socket s) {
      if (auto self = weak.lock()) self->accept(i, std::move(s));
    });
  }
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    endpoints_[i]->start([weak = weak_from_this(), i](const transport::PeerAddress& peer,
                                                      std::span<const std::uint8_t> datagram) {
      if (auto self = weak.lock()) self->adopt(i, peer, datagram);
    });
  }
  const auto& ep = plan_.spec.bind;
  log_.info("listener " + name(),
            "listening on " + config::Endpoint{ep.host, port_}.str() + " (" + plan_.spec.transport +
                ", adapter " + plan_.spec.adapter.name + ", " +
                std::to_string(std::max(acceptors_.size(), endpoints_.size())) + " loops)");
}

void Listener::stop_accepting() {
  accepting_.store(false);
  for (auto& acceptor : acceptors_) acceptor->stop();
  acceptors_.clear();
  // A UDP socket serves its known peers too: it stays open, for them, until the listener goes.
  for (auto& endpoint : endpoints_) endpoint->stop_new_peers();
}

Listener::Ticket Listener::take_slot(const std::string& peer, bool replacing) {
  runtime::Refusal why = runtime::Refusal::none;
  auto ticket = admission_->admit(runtime::Admission::Clock::now(), why);
  if (!ticket) {
    refused(why, peer);
    return nullptr;
  }
  if (!peer.empty() && !ticket->count_address(peer)) {
    refused(runtime::Refusal::per_address, peer);
    return nullptr;
  }
  if (count_.fetch_add(1) < plan_.spec.max_connections || replacing) return ticket;
  count_.fetch_sub(1);
  refused(runtime::Refusal::max_connections, peer);
  return nullptr;
}

void Listener::give_back(const Ticket& ticket) {
  ticket->release();
  count_.fetch_sub(1);
}

void Listener::refused(runtime::Refusal why, const std::string& peer) {
  const auto& spec = plan_.spec;
  std::string what;
  switch (why) {
    case runtime::Refusal::rate:
      shared_->metrics.refused_rate.inc();
      what = "max_connection_rate (" + std::to_string(spec.max_connection_rate) + "/s) exceeded";
      break;
    case runtime::Refusal::pending:
      shared_->metrics.refused_pending.inc();
      what = "max_pending_handshakes (" + std::to_string(spec.max_pending_handshakes) + ") reached";
      break;
    case runtime::Refusal::per_address:
      shared_->metrics.refused_per_address.inc();
      what = "max_connections_per_address (" + std::to_string(spec.max_connections_per_address) +
             ") reached by " + runtime::Admission::address_of(peer);
      break;
    case runtime::Refusal::none:  // not a refusal: admit() sets it only with a ticket
    case runtime::Refusal::max_connections:
      shared_->metrics.refused_limit.inc();
      what = "max_connections (" + std::to_string(spec.max_connections) + ") reached";
      break;
  }
  // A flood of new sources repeats this for every datagram: debug there, not warn. The
  // logger folds repeated warnings into one line with a count.
  if (datagrams()) {
    if (log_.enabled(LogLevel::debug)) log_.debug("listener " + name(), "refused: " + what);
  } else {
    log_.warn("listener " + name(), "connection refused: " + what);
  }
}

std::shared_ptr<const transport::ConnectionSettings> Listener::connection_settings() const {
  transport::ConnectionSettings settings{"listener " + name(), {}};
  if (datagrams()) settings.limits.read_chunk = plan_.spec.udp.max_datagram;
  settings.limits.budget = budget_;
  return std::make_shared<const transport::ConnectionSettings>(std::move(settings));
}

void Listener::serve_dtls(std::size_t loop, const transport::PeerAddress& peer,
                          transport::SslPtr verified, Ticket ticket) {
  // The handshake asks the authenticators of the pipeline in force on this loop for keys.
  auto psk = [shared = shared_, loop](std::string_view identity) {
    return shared->pipelines[loop]->psk_key(identity);
  };
  // The same address says hello again: a session of its own once the cookie proves it. It may
  // go past max_connections by one for a moment, as the session it replaces is closing.
  auto rehello = [weak = weak_from_this(), loop](const transport::PeerAddress& from,
                                                 std::span<const std::uint8_t> hello) {
    auto self = weak.lock();
    if (!self) return false;
    auto fresh = self->gates_.at(loop)->offer(from, hello);
    if (!fresh) return false;
    auto place = self->take_slot(from.str(), true);
    if (!place) return false;
    self->serve_dtls(loop, from, std::move(fresh), std::move(place));
    return true;
  };
  serve(loop,
        std::make_unique<transport::DtlsStream>(endpoints_.at(loop), peer, plan_.dtls,
                                                std::move(verified), std::move(psk),
                                                std::move(rehello)),
        std::move(ticket));
}

void Listener::adopt(std::size_t loop, const transport::PeerAddress& peer,
                     std::span<const std::uint8_t> datagram) {
  transport::SslPtr verified{nullptr, &SSL_free};
  if (!gates_.empty()) {
    verified = gates_.at(loop)->offer(peer, datagram);
    if (!verified) return;  // answered with a cookie, or not a hello: nothing kept
  }
  auto ticket = take_slot(peer.str());
  if (!ticket) return;
  if (verified) {
    serve_dtls(loop, peer, std::move(verified), std::move(ticket));
    return;
  }
  auto stream = std::make_unique<transport::DatagramStream>(endpoints_.at(loop), peer);
  auto* first = stream.get();
  serve(loop, std::move(stream), std::move(ticket));
  first->on_datagram(datagram);
}

void Listener::accept(std::size_t loop, boost::asio::ip::tcp::socket socket) {
  // Behind a balancer the socket's peer is the balancer: the device's address comes with the
  // header, and is counted then.
  std::string peer;
  if (!plan_.spec.proxy_v2) {
    boost::system::error_code ec;
    peer = transport::format_endpoint(socket.remote_endpoint(ec));
  }
  auto ticket = take_slot(peer);
  if (!ticket) {
    boost::system::error_code ec;
    socket.close(ec);
    return;
  }
  if (!plan_.spec.proxy_v2) {
    open_stream(loop, std::move(socket), std::nullopt, std::move(ticket));
    return;
  }
  transport::read_proxy_header(
      std::move(socket), kProxyHeaderTimeout,
      [self = shared_from_this(), loop, ticket](
          boost::asio::ip::tcp::socket s, std::optional<transport::ProxiedAddresses> addresses,
          const std::string& why) {
        boost::system::error_code ignored;
        if (!why.empty()) {
          self->give_back(ticket);
          self->shared_->metrics.refused_proxy.inc();
          self->log_.warn("listener " + self->name(), "connection refused: " + why);
          return;
        }
        const std::string device =
            addresses ? addresses->remote : transport::format_endpoint(s.remote_endpoint(ignored));
        if (!ticket->count_address(device)) {
          self->give_back(ticket);
          self->refused(runtime::Refusal::per_address, device);
          s.close(ignored);
          return;
        }
        if (!self->accepting_.load()) {
          self->give_back(ticket);
          s.close(ignored);
          return;
        }
        self->open_stream(loop, std::move(s), std::move(addresses), ticket);
      });
}

void Listener::open_stream(std::size_t loop, boost::asio::ip::tcp::socket socket,
                           std::optional<transport::ProxiedAddresses> addresses, Ticket ticket) {
  std::unique_ptr<transport::Stream> stream;
  if (plan_.websocket) {
    stream = transport::make_websocket_stream(std::move(socket), tls_[loop], plan_.websocket, log_,
                                              "listener " + name());
  } else if (tls_[loop]) {
    stream = std::make_unique<transport::TlsStream>(std::move(socket), tls_[loop]);
  } else {
    stream = std::make_unique<transport::TcpStream>(std::move(socket));
  }
  if (addresses) stream->set_addresses(std::move(addresses->remote), std::move(addresses->local));
  serve(loop, std::move(stream), std::move(ticket));
}

void Listener::serve(std::size_t loop, std::unique_ptr<transport::Stream> stream, Ticket ticket) {
  auto conn =
      std::make_shared<transport::Connection>(loops_.at(loop), std::move(stream), log_, settings_);
  {
    std::lock_guard lock(live_mutex_);
    live_.emplace(conn.get(), conn);
  }
  auto session = std::make_shared<runtime::Session>(shared_, loop);
  session->hold(std::move(ticket));
  shared_->metrics.accepted.inc();
  shared_->metrics.open.add(1);
  // The session holds the ticket: an owner callback capturing it would be one more allocation
  // per device.
  conn->start(session, shared_from_this());
}

void Listener::finished(transport::Connection& conn, bool opened) {
  {
    std::lock_guard lock(live_mutex_);
    live_.erase(&conn);
  }
  count_.fetch_sub(1);
  shared_->metrics.open.add(-1);
  if (!opened) shared_->metrics.refused_handshake.inc();
}

std::vector<std::shared_ptr<transport::Connection>> Listener::snapshot() {
  std::vector<std::shared_ptr<transport::Connection>> conns;
  std::lock_guard lock(live_mutex_);
  conns.reserve(live_.size());
  for (const auto& [key, conn] : live_) conns.push_back(conn);
  return conns;
}

template <class F>
void Listener::for_each_connection(F&& f) {
  // The last reference must end on the connection's loop, never on the caller's thread.
  for (auto& c : snapshot()) {
    auto& loop = c->loop();
    boost::asio::post(loop, [c = std::move(c), f] { f(*c); });
  }
}

void Listener::drain() {
  for_each_connection([](transport::Connection& c) { c.drain(); });
}

void Listener::close_all(const std::string& reason) {
  for_each_connection([reason](transport::Connection& c) { c.abort(reason); });
}

void Listener::set_pipeline(const std::shared_ptr<const runtime::Pipeline>& pipeline,
                            const std::shared_ptr<boost::asio::ssl::context>& tls) {
  std::latch taken(static_cast<std::ptrdiff_t>(loops_.size()));
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    boost::asio::post(loops_.at(i), [this, shared = shared_, pipeline, tls, i, &taken] {
      shared->pipelines[i] = pipeline;
      if (tls) tls_[i] = tls;
      taken.count_down();
    });
  }
  taken.wait();
}

}  // namespace iotgw::topology
