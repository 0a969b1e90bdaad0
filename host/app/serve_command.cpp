// Serving: start the topology, reload it on SIGHUP (or POST /reload, or a watched file's
// change), drain on POST /drain, and drain then exit on SIGTERM or SIGINT.
#include <array>
#include <atomic>
#include <csignal>
#include <future>
#include <iostream>
#include <mutex>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "admin/admin_endpoint.hpp"
#include "app/commands.hpp"
#include "app/file_watch.hpp"
#include "app/pid_file.hpp"
#include "app/service_manager.hpp"
#include "app/topology_source.hpp"
#include "bridge/bridge.hpp"
#include "topology/gateway.hpp"
#include "topology/plan.hpp"

namespace iotgw::app {

namespace {

constexpr std::chrono::milliseconds kReapEvery{200};
constexpr std::chrono::milliseconds kWatchEvery{1000};
// An event loop that has not run a posted no-op within this is stuck (a plugin blocking it).
constexpr std::chrono::milliseconds kHealthBound{2000};

// The bridge's numbers, as /metrics and /status both show them: one list, so the two agree.
struct BridgeField {
  const char* key;     // in /status
  const char* metric;  // in /metrics
  const char* help;
  bool counter;
  std::size_t bridge::BridgeStats::*value;
};
constexpr std::array<BridgeField, 8> kBridgeFields{{
    {"connections", "iotgw_bridge_connections", "Hub connections the bridge holds.", false,
     &bridge::BridgeStats::connections},
    {"connections_up", "iotgw_bridge_connections_up", "Hub connections open now.", false,
     &bridge::BridgeStats::up},
    {"devices", "iotgw_bridge_devices", "Devices attached upstream.", false,
     &bridge::BridgeStats::devices},
    {"in_flight", "iotgw_bridge_in_flight", "QoS 1 messages sent to the hub and not yet settled.",
     false, &bridge::BridgeStats::in_flight},
    {"queued", "iotgw_bridge_queued", "Messages waiting for link credit or for the connection.",
     false, &bridge::BridgeStats::queued},
    {"held", "iotgw_bridge_held", "Devices whose reading is paused until the hub catches up.",
     false, &bridge::BridgeStats::held},
    {"reconnects", "iotgw_bridge_reconnects_total", "Hub connections lost and reopened.", true,
     &bridge::BridgeStats::reconnects},
    {"tokens_renewed", "iotgw_bridge_tokens_renewed_total", "Device tokens the bridge minted anew.",
     true, &bridge::BridgeStats::tokens_renewed},
}};

class Server final : public admin::Controls {
 public:
  Server(const Options& options, Logger& log, metrics::Registry& registry, config::Topology first,
         std::optional<PidFile> pid_file)
      : options_(options),
        pid_file_(std::move(pid_file)),
        log_(log),
        registry_(registry),
        loops_(first.gateway.threads),
        bridge_(bridge::make_bridge(first.bridge, log)),
        gateway_(loops_, *bridge_, copies_, log, registry),
        current_(std::move(first)),
        signals_(control_, SIGHUP, SIGTERM, SIGINT),
        reaper_(control_),
        watch_timer_(control_),
        watchdog_timer_(control_),
        exit_timer_(control_),
        reloads_ok_(registry.counter("iotgw_reloads_total", "Topology reloads by result.",
                                     {{"result", "ok"}})),
        reloads_failed_(registry.counter("iotgw_reloads_total", "Topology reloads by result.",
                                         {{"result", "failed"}})) {}

  int run() {
    config::Diagnostics diags;
    auto report = gateway_.apply(current_, diags);
    if (!report) {
      std::cerr << diags.str();
      log_.error("gateway", "cannot start: " + std::to_string(diags.size()) + " error(s)");
      return 1;
    }
    refresh_plugins();
    const auto collecting = registry_.collect([this](metrics::Scrape& s) { collect(s); });
    signals_.add(SIGUSR1);
    loops_.start();
    std::vector<boost::asio::io_context*> loops;
    for (std::size_t i = 0; i < loops_.size(); ++i) loops.push_back(&loops_.at(i));
    bridge_->warm_up(loops);
    if (current_.gateway.admin) {
      try {
        admin_.emplace(*current_.gateway.admin, *this, registry_, log_);
      } catch (const std::exception& e) {
        log_.error("gateway", std::string("cannot start: ") + e.what());
        gateway_.shutdown(std::chrono::milliseconds(0));
        loops_.stop();
        return 1;
      }
    }
    serving_ = true;
    if (std::string error; pid_file_ && !pid_file_->write(error)) log_.error("gateway", error);
    log_.info("gateway", "serving " + options_.config_file + " with " +
                             std::to_string(loops_.size()) + " event loop(s), bridge " +
                             bridge_->describe());
    service_.ready("serving " + options_.config_file);
    wait_signal();
    schedule_reap();
    start_watch();
    schedule_watchdog();
    control_.run();
    // The drain has had its time (exit_after_drain): whatever is still open closes now.
    gateway_.shutdown(std::chrono::milliseconds(0));
    if (admin_) admin_->stop();
    loops_.stop();
    log_.info("gateway", "stopped");
    return 0;
  }

  // admin::Controls, called from the admin endpoint's thread.
  void reload(std::function<void(admin::ReloadResult)> done) override {
    boost::asio::post(control_, [this, done = std::move(done)] { done(reload("POST /reload")); });
  }

  void drain(std::function<void(std::size_t)> done) override {
    boost::asio::post(control_, [this, done = std::move(done)] { done(start_drain()); });
  }

  void status(std::function<void(std::string)> done) override {
    boost::asio::post(control_, [this, done = std::move(done)] { done(status_document()); });
  }

  std::string not_ready() const override {
    if (!serving_) return "starting";
    if (draining_) return "draining";
    if (!hub_seen_) {
      if (bridge_->stats().up == 0) return "the bridge has not reached the hub yet";
      hub_seen_ = true;  // after that a hub outage holds devices; it does not unready replicas
    }
    return {};
  }

  std::string unhealthy() override { return stuck_loops(true); }

 private:
  // `with_control` false on the control loop itself, which cannot answer while it waits.
  std::string stuck_loops(bool with_control) {
    std::vector<std::future<void>> answers;
    auto ping = [&answers](boost::asio::io_context& io) {
      auto done = std::make_shared<std::promise<void>>();
      answers.push_back(done->get_future());
      boost::asio::post(io, [done] { done->set_value(); });
    };
    if (with_control) ping(control_);
    for (std::size_t i = 0; i < loops_.size(); ++i) ping(loops_.at(i));
    const auto deadline = std::chrono::steady_clock::now() + kHealthBound;
    std::string stuck;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].wait_until(deadline) == std::future_status::ready) continue;
      const auto loop = with_control ? static_cast<long>(i) - 1 : static_cast<long>(i);
      stuck += (stuck.empty() ? "" : ", ") +
               (loop < 0 ? std::string("the control loop") : "event loop " + std::to_string(loop));
    }
    return stuck.empty() ? std::string() : stuck + " did not answer within 2 s";
  }

  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        reload("SIGHUP");
        wait_signal();
        return;
      }
      if (signo == SIGUSR1) {
        log_.info("bridge", bridge_->status());
        wait_signal();
        return;
      }
      log_.info("gateway", std::string(signo == SIGTERM ? "SIGTERM" : "SIGINT") + ": draining");
      service_.stopping();
      exit_after_drain();
    });
  }

  // Signals, POST /reload and the watch run here one at a time, so a second reload waits its
  // turn.
  admin::ReloadResult reload(const std::string& cause) {
    ++reloads_;
    const std::string tag = "reload #" + std::to_string(reloads_);
    admin::ReloadResult result;
    if (draining_) {
      result.summary = tag + " refused: the gateway is draining (" + cause + ")";
      log_.warn("gateway", result.summary);
      reloads_failed_.inc();
      return result;
    }
    service_.reloading();
    config::Diagnostics diags;
    // Past topology errors too, as --check does, so the answer names every error at once; what
    // parsed with errors is only checked, never applied.
    auto next = load_topology(options_, diags, true);
    std::optional<topology::ApplyReport> report;
    if (next && diags.empty()) {
      report = gateway_.apply(*next, diags);
    } else if (next) {
      topology::build_plan(*next, copies_, log_, diags);
    }
    if (watch_) watch_->watch(FileWatch::named_by(options_.config_file));
    if (!report) {
      for (const auto& d : diags.all()) {
        log_.error("config", d.str());
        result.errors.push_back(d.str());
      }
      result.summary = tag + " failed (" + std::to_string(diags.size()) +
                       " error(s)); the previous topology keeps serving (" + cause + ")";
      log_.error("gateway", result.summary);
      reloads_failed_.inc();
      service_.ready("serving " + options_.config_file + "; last reload failed");
      return result;
    }
    if (!(next->bridge == current_.bridge) || next->gateway.threads != current_.gateway.threads ||
        !(next->gateway.admin == current_.gateway.admin)) {
      log_.warn("gateway",
                tag + ": bridge, gateway.threads and gateway.admin changes take effect at restart");
    }
    if (!options_.log_level && next->gateway.log_level) log_.set_level(*next->gateway.log_level);
    if (!options_.log_format && next->gateway.log_format)
      log_.set_format(*next->gateway.log_format);
    current_ = std::move(*next);
    refresh_plugins();
    result.ok = true;
    result.summary = tag + " ok: " + report->str() + " (" + cause + ")";
    log_.info("gateway", result.summary);
    reloads_ok_.inc();
    service_.ready("serving " + options_.config_file);
    return result;
  }

  std::size_t start_drain() {
    if (draining_) return gateway_.open_connections();
    draining_ = true;
    return gateway_.drain(control_, current_.gateway.drain_rate);
  }

  // SIGTERM: the drain POST /drain does, then exit once every connection has gone or the time
  // for the pacing plus drain_timeout has passed; what is left is closed.
  void exit_after_drain() {
    const auto asked = start_drain();
    const auto rate = current_.gateway.drain_rate;
    const auto pacing =
        rate == 0 ? std::chrono::milliseconds(0) : std::chrono::milliseconds(asked * 1000 / rate);
    drain_deadline_ = std::chrono::steady_clock::now() + pacing + current_.gateway.drain_timeout;
    reaper_.cancel();
    watch_timer_.cancel();
    poll_exit();
  }

  void poll_exit() {
    if (gateway_.open_connections() == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
      control_.stop();
      return;
    }
    exit_timer_.expires_after(std::chrono::milliseconds(50));
    exit_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) poll_exit();
    });
  }

  void schedule_reap() {
    reaper_.expires_after(kReapEvery);
    reaper_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      gateway_.reap();
      schedule_reap();
    });
  }

  void start_watch() {
    if (!current_.gateway.watch) return;
    watch_.emplace();
    watch_->watch(FileWatch::named_by(options_.config_file));
    log_.info("gateway", "watching " + std::to_string(watch_->files().size()) +
                             " file(s) the topology names; a change reloads it");
    schedule_watch();
  }

  void schedule_watch() {
    watch_timer_.expires_after(kWatchEvery);
    watch_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (watch_->changed()) reload("a watched file changed");
      schedule_watch();
    });
  }

  void schedule_watchdog() {
    const auto every = service_.watchdog_interval();
    if (!every) return;
    watchdog_timer_.expires_after(*every);
    watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      // Pinged only while every event loop answers too: a loop stuck for longer than
      // WatchdogSec lets systemd restart the gateway.
      if (stuck_loops(false).empty()) service_.watchdog();
      schedule_watchdog();
    });
  }

  // Values other parts keep, read at scrape time.
  void collect(metrics::Scrape& s) const {
    const auto b = bridge_->stats();
    for (const auto& f : kBridgeFields) {
      const auto v = static_cast<double>(b.*f.value);
      if (f.counter) {
        s.counter(f.metric, f.help, {}, v);
      } else {
        s.gauge(f.metric, f.help, {}, v);
      }
    }
    s.gauge("iotgw_ready", "1 when /readyz says ready.", {}, not_ready().empty() ? 1 : 0);
    s.gauge("iotgw_draining", "1 once a drain began.", {}, draining_ ? 1 : 0);
    s.gauge("iotgw_build_info", "The gateway's version and plugin ABI; always 1.",
            {{"version", IOTGW_VERSION},
             {"abi", std::to_string(IOTGW_ABI_MAJOR) + "." + std::to_string(IOTGW_ABI_MINOR)}},
            1);
    std::lock_guard lock(plugins_mutex_);
    for (const auto& labels : plugin_labels_) {
      s.gauge("iotgw_plugin_info", "Plugins the topology in force uses; always 1.", labels, 1);
    }
    metrics::collect_process(s);
  }

  // The plugins the listeners in force use, as labels. On the control loop.
  std::vector<metrics::Labels> plugins_in_use() const {
    std::vector<metrics::Labels> plugins;
    std::set<std::string> seen;
    auto add = [&](const plugins::Plugin& p) {
      if (!seen.insert(p.path().string()).second) return;
      const auto& d = p.descriptor();
      plugins.push_back({{"name", std::string(p.name())},
                         {"kind", p.kind() == IOTGW_KIND_ADAPTER ? "adapter" : "stage"},
                         {"version", d.version != nullptr ? d.version : ""},
                         {"abi", std::to_string(d.abi_major) + "." + std::to_string(d.abi_minor)},
                         {"path", p.path().string()}});
    };
    for (const auto& l : gateway_.listeners()) {
      const auto& plan = l->plan();
      add(plan.adapter->plugin());
      for (const auto* list : {&plan.pipeline->authenticators(), &plan.pipeline->transforms()}) {
        for (const auto& s : *list) add(s.instance->plugin());
      }
    }
    return plugins;
  }

  void refresh_plugins() {
    auto labels = plugins_in_use();
    std::lock_guard lock(plugins_mutex_);
    plugin_labels_ = std::move(labels);
  }

  std::string status_document() {
    nlohmann::json doc;
    doc["version"] = IOTGW_VERSION;
    doc["config_file"] = options_.config_file;
    doc["ready"] = not_ready().empty();
    doc["not_ready"] = not_ready();
    doc["draining"] = draining_.load();
    doc["reloads"] = reloads_;
    doc["event_loops"] = loops_.size();
    nlohmann::json listeners = nlohmann::json::array();
    for (const auto& l : gateway_.listeners()) {
      const auto& plan = l->plan();
      nlohmann::json stages = nlohmann::json::array();
      for (const auto* list : {&plan.pipeline->authenticators(), &plan.pipeline->transforms()}) {
        for (const auto& s : *list) {
          stages.push_back({{"name", s.name}, {"plugin", s.instance->plugin().name()}});
        }
      }
      listeners.push_back({{"name", l->name()},
                           {"adapter", plan.spec.adapter.name},
                           {"transport", plan.spec.transport},
                           {"bind", config::Endpoint{plan.spec.bind.host, l->port()}.str()},
                           {"connections", l->connections()},
                           {"max_connections", plan.spec.max_connections},
                           {"stages", stages}});
    }
    doc["listeners"] = listeners;
    nlohmann::json plugin_list = nlohmann::json::array();
    std::lock_guard lock(plugins_mutex_);
    for (const auto& labels : plugin_labels_) {
      nlohmann::json p;
      for (const auto& [k, v] : labels) p[k] = v;
      plugin_list.push_back(p);
    }
    doc["plugins"] = plugin_list;
    const auto b = bridge_->stats();
    auto& bridge = doc["bridge"];
    bridge["describe"] = bridge_->describe();
    for (const auto& f : kBridgeFields) bridge[f.key] = b.*f.value;
    bridge["last_error"] = b.last_error;
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }

  const Options& options_;
  std::optional<PidFile> pid_file_;  // first: removed after everything else has stopped
  Logger& log_;
  metrics::Registry& registry_;
  ServiceManager service_;
  plugins::PrivateCopies copies_;
  transport::EventLoops loops_;
  std::unique_ptr<bridge::Bridge> bridge_;
  topology::Gateway gateway_;
  config::Topology current_;
  // Before control_: destroyed after it, since requests queued there hold its connections.
  std::optional<admin::AdminEndpoint> admin_;
  boost::asio::io_context control_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer reaper_;
  boost::asio::steady_timer watch_timer_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer exit_timer_;
  std::optional<FileWatch> watch_;
  std::chrono::steady_clock::time_point drain_deadline_{};
  metrics::Counter& reloads_ok_;
  metrics::Counter& reloads_failed_;
  unsigned reloads_ = 0;
  std::atomic<bool> serving_{false};
  std::atomic<bool> draining_{false};
  mutable std::atomic<bool> hub_seen_{false};
  mutable std::mutex plugins_mutex_;
  std::vector<metrics::Labels> plugin_labels_;
};

}  // namespace

int run_serve(const Options& options, Logger& log) {
  config::Diagnostics diags;
  auto topology = load_topology(options, diags);
  if (!topology) {
    std::cerr << diags.str();
    return 2;
  }
  std::string error;
  auto pid_file = options.pid_file.empty() ? std::nullopt : PidFile::claim(options.pid_file, error);
  if (!pid_file && !options.pid_file.empty()) {
    log.error("gateway", "cannot start: " + error);
    return 1;
  }
  if (!options.log_level && topology->gateway.log_level)
    log.set_level(*topology->gateway.log_level);
  if (!options.log_format && topology->gateway.log_format)
    log.set_format(*topology->gateway.log_format);
  metrics::Registry registry;
  Server server(options, log, registry, std::move(*topology), std::move(pid_file));
  return server.run();
}

}  // namespace iotgw::app
