// iotgw-bench: an MQTT load generator (Asio, one thread) for iotgw and any MQTT server, and the
// sink that bounds them all; `coap pub` does the same for CoAP servers (coap/). `iotgw-bench` alone
// prints the modes and their options. Exit 0 when the run did what it was asked (everything
// acknowledged, received or connected), 1 otherwise.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <thread>

#include "../coap/run.hpp"
#include "c2d_service.hpp"
#include "client.hpp"
#include "iotgw/common/clock.hpp"
#include "iotgw/common/registry.hpp"
#include "iotgw/common/sas_token.hpp"
#include "method_caller.hpp"
#include "options.hpp"
#include "sink.hpp"

namespace {

using namespace iotgw::bench;
using boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Who each client is: from the registry (device ids, SAS tokens, its host), as IoT Hub devices
// on --iothub, or plain clients of a broker.
std::vector<ClientPlan> plan_clients(const Options& o,
                                     const std::optional<iotgw::hub::Registry>& registry,
                                     const std::string& hostname) {
  std::vector<ClientPlan> plans(static_cast<std::size_t>(o.clients));
  std::shared_ptr<boost::asio::ssl::context> tls;
  if (o.tls) {
    tls = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
    if (!o.ca.empty()) {
      tls->load_verify_file(o.ca);
      tls->set_verify_mode(boost::asio::ssl::verify_peer);
      tls->set_verify_callback(boost::asio::ssl::host_name_verification(o.host));
    }
  }
  if (registry && registry->devices().size() < plans.size()) {
    throw std::runtime_error(o.registry + " has " + std::to_string(registry->devices().size()) +
                             " devices, fewer than --clients");
  }
  for (std::size_t i = 0; i < plans.size(); ++i) {
    auto& p = plans[i];
    const std::string prefix = !o.prefix.empty() ? o.prefix : o.mode == Mode::sub ? "s" : "d";
    p.id = registry ? registry->devices()[i].id : prefix + std::to_string(i);
    p.password = registry ? iotgw::sas::make(hostname + "/devices/" + p.id,
                                             registry->devices()[i].primary_key,
                                             iotgw::unix_seconds() + std::int64_t{24} * 3600)
                          : o.password;
    p.username = hostname.empty() ? p.id : hostname + "/" + p.id + "/?api-version=2021-04-12";
    p.qos = o.qos;
    p.window = o.window;
    p.level = static_cast<iotgw::mqtt::ProtocolLevel>(o.mqtt);
    if (!o.ws.empty()) p.ws_path = o.ws;
    p.tls = tls;
    p.size = o.size;
    if (o.mode == Mode::twin) {
      p.twin_get = true;
      p.qos = 0;  // a twin GET is answered on its response topic, not by PUBACK
      p.filters = {"$iothub/twin/res/#"};
    } else if (o.mode == Mode::methods) {
      p.answer_methods = true;
      p.filters = {"$iothub/methods/POST/#"};
    } else if (o.mode == Mode::pub) {
      p.publish_topic = !hostname.empty() ? "devices/" + p.id + "/messages/events/"
                        : o.topic.empty() ? "bench/" + p.id
                                          : o.topic;
      if (const auto at = p.publish_topic.find("{id}"); at != std::string::npos) {
        p.publish_topic.replace(at, 4, p.id);
      }
      if (o.c2d > 0) p.filters = {"devices/" + p.id + "/messages/devicebound/#"};
    } else if (o.mode == Mode::sub) {
      p.filters = {o.topic.empty() ? "bench/#" : o.topic};
    } else if (o.mode == Mode::c2d) {
      p.filters = {"devices/" + p.id + "/messages/devicebound/#"};
    } else if (o.mode == Mode::conn) {
      // A new source address every 10,000 connections: each (source, server) pair has only
      // the ephemeral port range (about 28,000 ports) to give.
      p.source =
          boost::asio::ip::make_address_v4(boost::asio::ip::make_address_v4(o.source).to_uint() +
                                           (static_cast<unsigned>(i / 10'000) << 8));
      p.read_buffer = 512;
    }
  }
  return plans;
}

// What the c2d service sends, as the registry's policy, round-robin to the clients' devices.
C2dPlan plan_c2d(const Options& o, const iotgw::hub::Registry& registry,
                 const std::vector<ClientPlan>& clients) {
  const auto* policy = registry.policy(o.policy);
  if (policy == nullptr) throw std::runtime_error(o.registry + " has no policy '" + o.policy + "'");
  C2dPlan plan;
  plan.url = o.hub_url;
  plan.hostname = registry.hostname;
  plan.policy = policy->name;
  plan.policy_key = policy->key;
  for (const auto& c : clients) plan.devices.push_back(c.id);
  plan.count = o.count;
  plan.size = o.size;
  plan.window = 30 * o.clients;  // undelivered, round-robin: under IoT Hub's 50 queued per device
  return plan;
}

// What the methods back end invokes, as the registry's policy, round-robin over the devices.
MethodCallPlan plan_methods(const Options& o, const iotgw::hub::Registry& registry,
                            const std::vector<ClientPlan>& clients) {
  const auto* policy = registry.policy(o.policy);
  if (policy == nullptr) throw std::runtime_error(o.registry + " has no policy '" + o.policy + "'");
  MethodCallPlan plan;
  plan.hub = {o.hub_https, o.ca, registry.hostname};
  plan.token =
      iotgw::sas::make(registry.hostname, policy->key, iotgw::unix_seconds() + 3600, policy->name);
  for (const auto& c : clients) plan.devices.push_back(c.id);
  plan.count = o.count;
  plan.callers = o.callers;
  return plan;
}

// One run of pub, sub, c2d or conn: its clients, its clock and when it is over.
class Run {
 public:
  Run(const Options& o, std::vector<ClientPlan> plans, std::optional<C2dPlan> c2d_plan,
      std::optional<MethodCallPlan> methods_plan)
      : o_(o),
        c2d_plan_(std::move(c2d_plan)),
        methods_plan_(std::move(methods_plan)),
        deadline_(io_),
        ticker_(io_),
        signals_(io_) {
    report_.mode = o.mode == Mode::pub       ? "pub"
                   : o.mode == Mode::sub     ? "sub"
                   : o.mode == Mode::c2d     ? "c2d"
                   : o.mode == Mode::twin    ? "twin"
                   : o.mode == Mode::methods ? "methods"
                                             : "conn";
    report_.clients = o.clients;
    report_.size = o.size;
    attempts_.resize(plans.size());
    for (std::size_t i = 0; i < plans.size(); ++i) clients_.push_back(make_client(i, plans[i]));
  }

  int run() {
    const auto server = *tcp::resolver(io_).resolve(o_.host, o_.port).begin();
    server_ = server;
    start_ = Clock::now();
    if (o_.mode == Mode::conn && o_.rate > 0) {
      pace_connections(server);
    } else {
      for (auto& c : clients_) c->start(server);
    }
    deadline_.expires_after(std::chrono::milliseconds(static_cast<long>(o_.deadline_s() * 1000)));
    deadline_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      std::cerr << "timed out\n";
      finish(false);
    });
    io_.run();
    if (service_.joinable()) service_.join();
    report_.totals = totals_;
    if (o_.mode == Mode::c2d) {
      report_.totals.sent = c2d_.sent;
      report_.totals.acked = c2d_.accepted;
      report_.totals.refused += c2d_.refused;  // by the hub: a full device queue, say
      if (!c2d_.error.empty()) std::cerr << "service: " << c2d_.error << "\n";
    }
    if (o_.mode == Mode::methods) {
      // The back end's view: calls answered per second, and its latency.
      report_.totals.sent = calls_.answered + calls_.failed;
      report_.totals.acked = calls_.answered;
      report_.totals.errors += calls_.failed;
      report_.totals.latency = calls_.latency;
      report_.seconds = calls_.seconds;
      report_.rate = calls_.seconds > 0 ? static_cast<double>(calls_.answered) / calls_.seconds : 0;
      if (!calls_.error.empty()) std::cerr << "back end: " << calls_.error << "\n";
    }
    if (o_.mode != Mode::conn) print();
    return ok_ ? 0 : 1;
  }

 private:
  void print() { std::cout << (o_.json ? json(report_) : text(report_)) << std::endl; }

  std::shared_ptr<Client> make_client(std::size_t i, ClientPlan plan) {
    return std::make_shared<Client>(io_, std::move(plan), totals_, [this, i] {
      if (!retry(i)) on_event();
    });
  }

  // conn --retries: client i failed; it connects again later, as a device backs off, and its
  // failure is not counted unless it was the last try.
  bool retry(std::size_t i) {
    if (o_.mode != Mode::conn || over_ || !clients_[i]->failed() || attempts_[i] >= o_.retries) {
      return false;
    }
    --totals_.errors;
    if (clients_[i]->connected()) --totals_.connected;  // it counts again when it is back
    ++totals_.retried;
    const double backoff = std::min(16.0, std::ldexp(1.0, attempts_[i]++));
    const auto delay = std::chrono::milliseconds(
        static_cast<long>(1000 * backoff * std::uniform_real_distribution(0.5, 1.5)(random_)));
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
    timer->async_wait([this, i, timer](const boost::system::error_code& ec) {
      if (ec || over_) return;
      clients_[i] = make_client(i, clients_[i]->plan());
      clients_[i]->start(server_);
    });
    return true;
  }

  void pace_connections(const tcp::endpoint& server) {
    const long due =
        std::min<long>(o_.clients, static_cast<long>(seconds_since(start_) * o_.rate) + 1);
    for (; started_ < due; ++started_) clients_[static_cast<std::size_t>(started_)]->start(server);
    if (started_ < o_.clients) {
      ticker_.expires_after(std::chrono::milliseconds(5));
      ticker_.async_wait([this, server](const boost::system::error_code& ec) {
        if (!ec) pace_connections(server);
      });
    }
  }

  void on_event() {
    if (over_) return;
    if (totals_.errors > 0 && o_.mode != Mode::conn) return finish(false);
    switch (o_.mode) {
      case Mode::pub:
      case Mode::twin: return on_pub_event();
      case Mode::methods: return on_methods_event();
      case Mode::sub:
      case Mode::c2d: return on_receive_event();
      case Mode::conn: return on_conn_event();
      case Mode::sink:
      case Mode::coap_pub: return;  // the sink answers; CoAP runs its own loop (coap/)
    }
  }

  // Everyone connected: publishing starts for all at once, so connecting is not timed.
  void on_pub_event() {
    if (!going_) {
      if (totals_.connected < o_.clients) return;
      going_ = true;
      t0_ = interval_from_ = Clock::now();
      if (o_.duration_s > 0) {
        deadline_publishing();
        target_ = -1;
      } else {
        target_ = o_.count * o_.clients;
      }
      const double every = o_.interval_s >= 0 ? o_.interval_s : o_.duration_s >= 60 ? 10 : 0;
      if (every > 0) report_interval(every);
      if (o_.rate > 0) {
        pace_publishing();
      } else {
        for (auto& c : clients_) c->allow(o_.duration_s > 0 ? LONG_MAX : o_.count);
      }
      return;
    }
    const bool all_sent =
        target_ >= 0 ? totals_.sent == target_
                     : publishing_over_ && std::all_of(clients_.begin(), clients_.end(),
                                                       [](const auto& c) { return c->settled(); });
    if (all_sent && totals_.acked == totals_.sent && totals_.received >= o_.c2d) {
      report_.seconds = seconds_since(t0_);
      report_.rate = static_cast<double>(totals_.acked) / report_.seconds;
      finish(true);
    }
  }
  void deadline_publishing() {
    ticker_.expires_after(std::chrono::milliseconds(static_cast<long>(o_.duration_s * 1000)));
    ticker_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      publishing_over_ = true;
      for (auto& c : clients_) c->stop_publishing();
      on_event();
    });
  }
  // A long run's drift shows as it happens: each span's rate and latency on stderr (the report
  // on stdout stays one line, or one JSON object).
  void report_interval(double every) {
    interval_.expires_after(std::chrono::milliseconds(static_cast<long>(every * 1000)));
    interval_.async_wait([this, every](const boost::system::error_code& ec) {
      if (ec || over_) return;
      const auto span = totals_.latency.since(interval_latency_);
      const double secs = seconds_since(interval_from_);
      std::fprintf(stderr, "%8.1f s  %10.0f msgs/s  p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
                   seconds_since(t0_), static_cast<double>(totals_.acked - interval_acked_) / secs,
                   static_cast<double>(span.percentile(0.5)) / 1000,
                   static_cast<double>(span.percentile(0.99)) / 1000,
                   static_cast<double>(span.max()) / 1000);
      interval_latency_ = totals_.latency;
      interval_acked_ = totals_.acked;
      interval_from_ = Clock::now();
      if (!publishing_over_) report_interval(every);
    });
  }
  // A fixed rate: every millisecond each client may have sent its share of rate x elapsed.
  void pace_publishing() {
    if (publishing_over_ || over_) return;
    const double per_client = o_.rate / o_.clients;
    auto budget = static_cast<long>(per_client * seconds_since(t0_)) + 1;
    if (o_.duration_s == 0) budget = std::min(budget, o_.count);
    for (auto& c : clients_) c->allow(budget);
    pacer_ = std::make_unique<boost::asio::steady_timer>(io_, std::chrono::milliseconds(1));
    pacer_->async_wait([this](const boost::system::error_code& ec) {
      if (!ec) pace_publishing();
    });
  }

  void on_receive_event() {
    if (!going_) {
      for (const auto& c : clients_) {
        if (!c->subscribed()) return;
      }
      going_ = true;
      t0_ = Clock::now();
      std::cerr << "ready" << std::endl;
      if (o_.mode == Mode::c2d) start_service();
      if (o_.duration_s > 0) {
        ticker_.expires_after(std::chrono::milliseconds(static_cast<long>(o_.duration_s * 1000)));
        ticker_.async_wait([this](const boost::system::error_code& ec) {
          if (!ec) finish_receiving();
        });
      }
      watch_idle();
      return;
    }
    if (totals_.received == 1) first_ = Clock::now();
    last_ = Clock::now();
    c2d_received_.store(totals_.received, std::memory_order_relaxed);
    if (totals_.received >= o_.count) finish_receiving();
  }
  // Nothing for 3 s after the first message: the rest is not coming (QoS 0 may drop).
  void watch_idle() {
    pacer_ = std::make_unique<boost::asio::steady_timer>(io_, std::chrono::milliseconds(200));
    pacer_->async_wait([this](const boost::system::error_code& ec) {
      if (ec || over_) return;
      if (totals_.received > 0 && std::chrono::duration<double>(Clock::now() - last_).count() > 3) {
        return finish_receiving();
      }
      watch_idle();
    });
  }
  void finish_receiving() {
    // sub: first to last arrival; c2d: from the service's start to the last arrival.
    const auto from = o_.mode == Mode::c2d ? t0_ : first_;
    report_.seconds = std::chrono::duration<double>(last_ - from).count();
    report_.rate =
        report_.seconds > 0 ? static_cast<double>(totals_.received) / report_.seconds : 0;
    finish(totals_.received >= o_.count);
  }
  void start_service() {
    c2d_plan_->received = &c2d_received_;
    service_ = std::thread([this] { c2d_ = send_c2d(*c2d_plan_); });
  }

  // Everyone subscribed: the back end calls from its own threads; the run ends when it has.
  void on_methods_event() {
    if (going_) return;
    for (const auto& c : clients_) {
      if (!c->subscribed()) return;
    }
    going_ = true;
    service_ = std::thread([this] {
      calls_ = call_methods(*methods_plan_);
      boost::asio::post(io_, [this] { finish(calls_.failed == 0 && calls_.answered == o_.count); });
    });
  }

  void on_conn_event() {
    if (totals_.connected + totals_.errors < o_.clients) return;
    report_.seconds = seconds_since(start_);
    report_.rate = static_cast<double>(totals_.connected) / report_.seconds;
    report_.totals = totals_;
    print();  // while the connections are held: the script measures memory now
    over_ = true;
    ok_ = totals_.errors == 0;
    if (o_.hold_s > 0) {
      ticker_.expires_after(std::chrono::milliseconds(static_cast<long>(o_.hold_s * 1000)));
      ticker_.async_wait([this](const boost::system::error_code&) { close_all(); });
    } else {
      signals_.add(SIGTERM);
      signals_.add(SIGINT);
      signals_.async_wait([this](const boost::system::error_code&, int) { close_all(); });
    }
    deadline_.cancel();
  }

  void finish(bool ok) {
    if (over_) return;
    over_ = true;
    ok_ = ok;
    close_all();
  }
  void close_all() {
    for (auto& c : clients_) c->close();
    io_.stop();
  }

  const Options& o_;
  std::optional<C2dPlan> c2d_plan_;  // c2d: what the service sends, checked before connecting
  std::optional<MethodCallPlan> methods_plan_;  // methods: what the back end calls
  boost::asio::io_context io_{1};
  boost::asio::steady_timer deadline_, ticker_;
  std::unique_ptr<boost::asio::steady_timer> pacer_;
  // --interval: the next progress line's timer, and where the current span started.
  boost::asio::steady_timer interval_{io_};
  Histogram interval_latency_;
  long interval_acked_ = 0;
  Clock::time_point interval_from_ = Clock::now();
  boost::asio::signal_set signals_;
  std::vector<std::shared_ptr<Client>> clients_;
  std::vector<int> attempts_;  // conn --retries: tries again so far, per client
  std::minstd_rand random_{std::random_device{}()};
  tcp::endpoint server_;
  Totals totals_;
  Report report_;
  Clock::time_point start_, t0_, first_, last_;
  long started_ = 0, target_ = 0;
  bool going_ = false, publishing_over_ = false, over_ = false, ok_ = false;
  std::thread service_;
  C2dResult c2d_;
  std::atomic<long> c2d_received_{0};  // c2d: what the devices received, read by the service
  MethodCallResult calls_;
};

// One descriptor per connection: take all the kernel allows this process.
void raise_file_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string error;
  const auto options = parse_options(argc, argv, error);
  if (!options) {
    std::cerr << (error.empty() ? "" : "iotgw-bench: " + error + "\n") << kUsage;
    return 2;
  }
  raise_file_limit();
  try {
    if (options->mode == Mode::sink) {
      boost::asio::io_context io(1);
      run_sink(io, options->host, options->port);
      return 0;
    }
    std::optional<iotgw::hub::Registry> registry;
    if (!options->registry.empty()) registry = iotgw::hub::Registry::load(options->registry);
    const std::string hostname = registry ? registry->hostname : options->iothub;
    auto plans = plan_clients(*options, registry, hostname);
    if (options->mode == Mode::coap_pub) {
      std::vector<iotgw::bench::coap::Device> devices;
      for (const auto& p : plans) devices.push_back({p.id, p.password});
      return iotgw::bench::coap::run_pub(*options, devices);
    }
    std::optional<C2dPlan> c2d;
    if (options->mode == Mode::c2d) c2d = plan_c2d(*options, *registry, plans);
    std::optional<MethodCallPlan> methods;
    if (options->mode == Mode::methods) methods = plan_methods(*options, *registry, plans);
    return Run(*options, std::move(plans), std::move(c2d), std::move(methods)).run();
  } catch (const std::exception& e) {
    std::cerr << "iotgw-bench: " << e.what() << "\n";
    return 2;
  }
}
