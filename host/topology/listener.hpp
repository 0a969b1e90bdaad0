// A serving listener: one acceptor (or UDP socket) per event loop, the connections it accepted, its
// connection limit, and the shared state (adapter, pipeline) its sessions use.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "runtime/admission.hpp"
#include "runtime/listener_shared.hpp"
#include "topology/plan.hpp"
#include "transport/connection.hpp"
#include "transport/dtls_gate.hpp"
#include "transport/event_loops.hpp"
#include "transport/proxy_reader.hpp"
#include "transport/tcp_acceptor.hpp"
#include "transport/udp_endpoint.hpp"

namespace iotgw::topology {

class Listener final : public transport::ConnectionOwner,
                       public std::enable_shared_from_this<Listener> {
 public:
  // `budget` (may be null) counts what the listener's connections hold in their buffers.
  Listener(ListenerPlan plan, transport::EventLoops& loops, bridge::Bridge& bridge, Logger& log,
           metrics::Registry& registry, std::shared_ptr<transport::BufferBudget> budget = nullptr);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Binds one socket per loop; throws std::runtime_error naming the listener and the address.
  void bind();
  void start();
  void stop_accepting();
  // Asks every connection to finish what is in flight (the adapter's on_drain).
  void drain();
  // Closes every connection now.
  void close_all(const std::string& reason);

  // Hands every loop the new pipeline and returns once each has taken it, so that whatever a
  // connection reads after this call runs through the new one. Call with the loops running.
  // A kept listener's TLS context is new too, so a certificate renewed on disk serves new
  // handshakes while open connections stay on theirs.
  void set_pipeline(const std::shared_ptr<const runtime::Pipeline>& pipeline,
                    const std::shared_ptr<boost::asio::ssl::context>& tls = nullptr);
  const ListenerPlan& plan() const { return plan_; }
  std::size_t connections() const { return count_.load(); }
  // Every connection open now, for a paced drain.
  std::vector<std::shared_ptr<transport::Connection>> snapshot();
  const std::string& name() const { return plan_.spec.name; }
  const std::string& shape() const { return plan_.shape; }
  std::uint16_t port() const { return port_; }

 private:
  using Ticket = std::shared_ptr<runtime::Admission::Ticket>;

  void accept(std::size_t loop, boost::asio::ip::tcp::socket socket);
  // The stream for an accepted socket (tcp, tls, ws, wss), served; `addresses` from a PROXY
  // header replace the socket's.
  void open_stream(std::size_t loop, boost::asio::ip::tcp::socket socket,
                   std::optional<transport::ProxiedAddresses> addresses, Ticket ticket);
  // A datagram from a new peer on a udp listener: a session for it, unless at the limit.
  void adopt(std::size_t loop, const transport::PeerAddress& peer,
             std::span<const std::uint8_t> datagram);
  // A place for a new connection from `peer` (empty: not known yet, behind a PROXY header), or
  // nullptr, counted and logged, when a bound refuses it. `replacing`: a DTLS peer's new session
  // while its old one closes, which may pass max_connections for a moment.
  Ticket take_slot(const std::string& peer, bool replacing = false);
  // The connection was never served: its place is given back.
  void give_back(const Ticket& ticket);
  // transport::ConnectionOwner: a served connection is gone. Its ticket goes with its session.
  void finished(transport::Connection& conn, bool opened) override;
  void refused(runtime::Refusal why, const std::string& peer);
  void serve_dtls(std::size_t loop, const transport::PeerAddress& peer, transport::SslPtr verified,
                  Ticket ticket);
  void serve(std::size_t loop, std::unique_ptr<transport::Stream> stream, Ticket ticket);
  bool datagrams() const;
  // What the listener's connections share: the log name and limits. A datagram session's read
  // buffer never needs more than the largest datagram taken.
  std::shared_ptr<const transport::ConnectionSettings> connection_settings() const;
  template <class F>
  void for_each_connection(F&& f);

  ListenerPlan plan_;
  transport::EventLoops& loops_;
  Logger& log_;
  std::shared_ptr<runtime::ListenerShared> shared_;
  std::shared_ptr<runtime::Admission> admission_;
  std::shared_ptr<transport::BufferBudget> budget_;
  std::shared_ptr<const transport::ConnectionSettings> settings_;
  std::vector<std::shared_ptr<transport::TcpAcceptor>> acceptors_;  // by loop index
  std::vector<std::shared_ptr<transport::UdpEndpoint>> endpoints_;  // udp, dtls: by loop index
  std::vector<std::unique_ptr<transport::DtlsGate>> gates_;         // dtls: by loop index
  std::vector<std::shared_ptr<boost::asio::ssl::context>> tls_;     // by loop index, as pipelines
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> count_{0};
  // False once stop_accepting ran: a socket still reading its PROXY header then is not served
  // (a drain or a removal would never reach it).
  std::atomic<bool> accepting_{true};
  std::mutex live_mutex_;
  // Owns its connections from accept until they finish: a connection waiting for nothing but
  // its peer (reading paused, no write) has no pending operation to keep it alive.
  std::unordered_map<const transport::Connection*, std::shared_ptr<transport::Connection>> live_;
};

}  // namespace iotgw::topology
