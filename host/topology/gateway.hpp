// The serving topology and its changes: first start, reload (build everything new first, swap
// only if all of it worked), draining removed listeners, and shutdown.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "bridge/bridge.hpp"
#include "config/diagnostics.hpp"
#include "config/model.hpp"
#include "topology/listener.hpp"
#include "transport/event_loops.hpp"

namespace iotgw::topology {

struct ApplyReport {
  std::size_t kept = 0, added = 0, removed = 0;
  std::string str() const;
};

class Gateway {
 public:
  Gateway(transport::EventLoops& loops, bridge::Bridge& bridge,
          const plugins::PrivateCopies& copies, Logger& log, metrics::Registry& registry);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Starts serving the model, or moves to it from what serves now. On failure nothing that
  // serves has changed, and diags says why.
  std::optional<ApplyReport> apply(const config::Topology& model, config::Diagnostics& diags);

  // Closes drained listeners and those past their deadline. Call it now and then.
  void reap();

  // Stops accepting on every listener and asks every connection to finish (the adapter's
  // on_drain), `rate` of them per second on `pace`'s thread (0: all at once), so the devices
  // move to other replicas without a reconnect storm. Returns how many connections it will ask.
  // Call on the thread that applies topologies.
  std::size_t drain(boost::asio::io_context& pace, unsigned rate);
  bool draining() const { return draining_all_; }
  // Connections open on every listener, serving or draining.
  std::size_t open_connections() const;

  // Stops accepting, asks every connection to finish, waits until they have or the deadline
  // passed, then closes what is left.
  void shutdown(std::chrono::milliseconds deadline);

  const std::vector<std::shared_ptr<Listener>>& listeners() const { return active_; }

 private:
  struct Draining {
    std::shared_ptr<Listener> listener;
    std::chrono::steady_clock::time_point deadline;
  };

  transport::EventLoops& loops_;
  bridge::Bridge& bridge_;
  const plugins::PrivateCopies& copies_;
  Logger& log_;
  metrics::Registry& registry_;
  std::chrono::milliseconds drain_timeout_{10'000};
  bool draining_all_ = false;
  std::shared_ptr<boost::asio::steady_timer> pacer_;
  std::vector<std::shared_ptr<Listener>> active_;
  std::vector<Draining> draining_;
  // What every connection of every listener holds in its buffers (gateway.max_buffered_bytes).
  std::shared_ptr<transport::BufferBudget> budget_;
};

}  // namespace iotgw::topology
