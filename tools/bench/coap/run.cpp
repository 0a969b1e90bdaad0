#include "run.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <climits>
#include <iostream>
#include <random>

#include "../mqtt/stamp.hpp"
#include "client.hpp"

namespace iotgw::bench::coap {

namespace {

using boost::asio::ip::udp;
using Clock = std::chrono::steady_clock;

constexpr auto kTick = std::chrono::milliseconds(20);  // retransmission timers' resolution
constexpr auto kPace = std::chrono::milliseconds(1);
// NON: once all are sent, answers stop coming when the server dropped the rest.
constexpr double kQuietSeconds = 1.0;

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

class Run {
 public:
  Run(const Options& o, const std::vector<Device>& devices)
      : o_(o), timeout_(io_), ticker_(io_), pacer_(io_), stopper_(io_) {
    std::random_device seeds;
    for (const auto& d : devices) {
      const RequestPlan plan{.path = o.path,
                             .size = o.size,
                             .confirmable = o.con,
                             .device = d.id,
                             .credential = d.credential};
      clients_.push_back(
          std::make_shared<Client>(io_, plan, o.window, seeds(), totals_, [this] { on_event(); }));
    }
  }

  int run() {
    const auto server = *udp::resolver(io_).resolve(o_.host, o_.port).begin();
    for (auto& c : clients_) c->start(server);
    timeout_.expires_after(ms(o_.deadline_s()));
    timeout_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      std::cerr << "timed out\n";
      finish(false);
    });
    tick();
    io_.run();
    Report report;
    report.mode = o_.con ? "coap-con" : "coap-non";
    report.clients = o_.clients;
    report.size = o_.size;
    report.totals = totals_;
    report.seconds = seconds_;
    // CON: answered 2.xx per second; NON: sent per second (what arrived is the server's count).
    const auto done = o_.con ? totals_.acked : totals_.sent;
    report.rate = seconds_ > 0 ? static_cast<double>(done) / seconds_ : 0;
    std::cout << (o_.json ? json(report) : text(report)) << std::endl;
    return ok_ ? 0 : 1;
  }

 private:
  void on_event() {
    if (over_) return;
    last_ = Clock::now();
    if (totals_.errors > 0) return finish(false);
    if (!going_) {
      if (totals_.connected == o_.clients) start_sending();
      return;
    }
    const auto& t = totals_;
    if (!all_sent()) return;
    if (o_.con ? t.acked + t.refused + t.lost == t.sent : t.received + t.refused == t.sent) {
      finish(t.refused == 0 && t.lost == 0);
    }
  }
  bool all_sent() const { return target_ >= 0 ? totals_.sent == target_ : stopped_; }

  // Every client's first request answered: sending starts for all at once, so connecting is not
  // timed.
  void start_sending() {
    going_ = true;
    t0_ = Clock::now();
    target_ = o_.duration_s > 0 ? -1 : o_.count * o_.clients;
    if (o_.duration_s > 0) {
      stopper_.expires_after(ms(o_.duration_s));
      stopper_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        stopped_ = true;
        for (auto& c : clients_) c->stop_sending();
        on_event();
      });
    }
    if (o_.rate > 0) return pace();
    for (auto& c : clients_) c->allow(o_.duration_s > 0 ? LONG_MAX : o_.count);
  }

  // A fixed rate: each client's share of rate x elapsed, raised every millisecond.
  void pace() {
    if (stopped_ || over_) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0_).count();
    long budget = static_cast<long>(o_.rate / o_.clients * elapsed) + 1;
    if (target_ >= 0) budget = std::min(budget, o_.count);
    for (auto& c : clients_) c->allow(budget);
    if (target_ >= 0 && budget == o_.count) return;
    pacer_.expires_after(kPace);
    pacer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) pace();
    });
  }

  // Retransmissions, and NON's end when the last answers are not coming.
  void tick() {
    if (over_) return;
    const auto now = now_ns();
    for (auto& c : clients_) c->poll(now);
    if (going_ && !o_.con && all_sent() &&
        std::chrono::duration<double>(Clock::now() - last_).count() > kQuietSeconds) {
      return finish(totals_.refused == 0);
    }
    ticker_.expires_after(kTick);
    ticker_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  }

  void finish(bool ok) {
    if (over_) return;
    over_ = true;
    ok_ = ok;
    // From the start to the last answer (NON: or the last send, if later).
    if (going_) seconds_ = std::chrono::duration<double>(last_ - t0_).count();
    for (auto& c : clients_) c->close();
    io_.stop();
  }

  const Options& o_;
  boost::asio::io_context io_{1};
  boost::asio::steady_timer timeout_, ticker_, pacer_, stopper_;
  std::vector<std::shared_ptr<Client>> clients_;
  Totals totals_;
  Clock::time_point t0_, last_;
  long target_ = 0;
  double seconds_ = 0;
  bool going_ = false, stopped_ = false, over_ = false, ok_ = false;
};

}  // namespace

int run_pub(const Options& o, const std::vector<Device>& devices) {
  return Run(o, devices).run();
}

}  // namespace iotgw::bench::coap
