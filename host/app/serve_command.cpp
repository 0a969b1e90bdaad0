// Serving: start the topology, reload it on SIGHUP, drain and exit on SIGTERM or SIGINT.
#include <csignal>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "app/commands.hpp"
#include "app/topology_source.hpp"
#include "bridge/bridge.hpp"
#include "topology/gateway.hpp"

namespace iotgw::app {

namespace {

constexpr std::chrono::milliseconds kReapEvery{200};

class Server {
 public:
  Server(const Options& options, Logger& log, config::Topology first)
      : options_(options),
        log_(log),
        loops_(first.gateway.threads),
        bridge_(bridge::make_bridge(first.bridge, log)),
        gateway_(loops_, *bridge_, copies_, log),
        current_(std::move(first)),
        signals_(control_, SIGHUP, SIGTERM, SIGINT),
        reaper_(control_) {}

  int run() {
    config::Diagnostics diags;
    auto report = gateway_.apply(current_, diags);
    if (!report) {
      std::cerr << diags.str();
      log_.error("gateway", "cannot start: " + std::to_string(diags.size()) + " error(s)");
      return 1;
    }
    signals_.add(SIGUSR1);
    loops_.start();
    log_.info("gateway", "serving " + options_.config_file + " with " +
                             std::to_string(loops_.size()) + " event loop(s), bridge " +
                             bridge_->describe());
    wait_signal();
    schedule_reap();
    control_.run();
    gateway_.shutdown(current_.gateway.drain_timeout);
    loops_.stop();
    log_.info("gateway", "stopped");
    return 0;
  }

 private:
  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        reload();
        wait_signal();
        return;
      }
      if (signo == SIGUSR1) {
        log_.info("bridge", bridge_->status());
        wait_signal();
        return;
      }
      log_.info("gateway", std::string(signo == SIGTERM ? "SIGTERM" : "SIGINT") + ": draining");
      reaper_.cancel();
      control_.stop();
    });
  }

  // Signals are handled one at a time on this loop, so a second SIGHUP waits its turn.
  void reload() {
    ++reloads_;
    const std::string tag = "reload #" + std::to_string(reloads_);
    config::Diagnostics diags;
    auto next = load_topology(options_, diags);
    std::optional<topology::ApplyReport> report;
    if (next) report = gateway_.apply(*next, diags);
    if (!report) {
      for (const auto& d : diags.all()) log_.error("config", d.str());
      log_.error("gateway", tag + " failed (" + std::to_string(diags.size()) +
                                " error(s)); the previous topology keeps serving");
      return;
    }
    if (!(next->bridge == current_.bridge) || next->gateway.threads != current_.gateway.threads) {
      log_.warn("gateway", tag + ": bridge and gateway.threads changes take effect at restart");
    }
    if (!options_.log_level && next->gateway.log_level) log_.set_level(*next->gateway.log_level);
    if (!options_.log_format && next->gateway.log_format)
      log_.set_format(*next->gateway.log_format);
    current_ = std::move(*next);
    log_.info("gateway", tag + " ok: " + report->str());
  }

  void schedule_reap() {
    reaper_.expires_after(kReapEvery);
    reaper_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      gateway_.reap();
      schedule_reap();
    });
  }

  const Options& options_;
  Logger& log_;
  plugins::PrivateCopies copies_;
  transport::EventLoops loops_;
  std::unique_ptr<bridge::Bridge> bridge_;
  topology::Gateway gateway_;
  config::Topology current_;
  boost::asio::io_context control_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer reaper_;
  unsigned reloads_ = 0;
};

}  // namespace

int run_serve(const Options& options, Logger& log) {
  config::Diagnostics diags;
  auto topology = load_topology(options, diags);
  if (!topology) {
    std::cerr << diags.str();
    return 2;
  }
  if (!options.log_level && topology->gateway.log_level)
    log.set_level(*topology->gateway.log_level);
  if (!options.log_format && topology->gateway.log_format)
    log.set_format(*topology->gateway.log_format);
  Server server(options, log, std::move(*topology));
  return server.run();
}

}  // namespace iotgw::app
