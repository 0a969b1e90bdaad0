#include "topology/gateway.hpp"

#include <algorithm>
#include <thread>

#include "topology/plan.hpp"

namespace iotgw::topology {

std::string ApplyReport::str() const {
  return "listeners kept " + std::to_string(kept) + ", added " + std::to_string(added) +
         ", removed " + std::to_string(removed);
}

Gateway::Gateway(transport::EventLoops& loops, bridge::Bridge& bridge,
                 const plugins::PrivateCopies& copies, Logger& log, metrics::Registry& registry)
    : loops_(loops),
      bridge_(bridge),
      copies_(copies),
      log_(log),
      registry_(registry),
      budget_(std::make_shared<transport::BufferBudget>(
          &registry.gauge("iotgw_buffered_bytes",
                          "Bytes device connections hold in their buffers: input read and not "
                          "yet used, output not yet written (gateway.max_buffered_bytes)."),
          &registry.gauge("iotgw_connections_waiting_for_memory",
                          "Connections not reading because the buffered bytes passed "
                          "gateway.max_buffered_bytes."),
          &registry.counter("iotgw_memory_pauses_total",
                            "Times a connection stopped reading because the buffered bytes "
                            "passed gateway.max_buffered_bytes."))) {}

Gateway::~Gateway() {
  for (auto& l : active_) l->stop_accepting();
}

std::optional<ApplyReport> Gateway::apply(const config::Topology& model,
                                          config::Diagnostics& diags) {
  auto plan = build_plan(model, copies_, log_, diags, &registry_);
  if (!plan) return std::nullopt;

  // Phase 1: everything that can fail, with nothing serving touched.
  struct Step {
    std::shared_ptr<Listener> listener;
    std::shared_ptr<const runtime::Pipeline> pipeline;  // set for kept listeners
    std::shared_ptr<boost::asio::ssl::context> tls;     // kept: the certificate as it is now
    bool added;
  };
  std::vector<Step> steps;
  for (auto& lp : plan->listeners) {
    auto same = std::find_if(active_.begin(), active_.end(), [&](const auto& l) {
      return l->name() == lp.spec.name && l->shape() == lp.shape;
    });
    if (same != active_.end()) {
      steps.push_back({*same, lp.pipeline, lp.tls, false});
      continue;
    }
    auto listener =
        std::make_shared<Listener>(std::move(lp), loops_, bridge_, log_, registry_, budget_);
    try {
      listener->bind();
    } catch (const std::exception& e) {
      diags.add({model.file.string(), 0, 0}, e.what());
      return std::nullopt;  // the new listeners bound so far close with `steps`
    }
    steps.push_back({listener, nullptr, nullptr, true});
  }

  // Phase 2: commit. Nothing below fails.
  ApplyReport report;
  std::vector<std::shared_ptr<Listener>> next;
  for (auto& s : steps) {
    if (s.added) {
      s.listener->start();
      ++report.added;
    } else {
      s.listener->set_pipeline(s.pipeline, s.tls);
      ++report.kept;
    }
    next.push_back(s.listener);
  }
  const auto deadline = std::chrono::steady_clock::now() + model.gateway.drain_timeout;
  for (auto& old : active_) {
    if (std::find(next.begin(), next.end(), old) != next.end()) continue;
    old->stop_accepting();
    old->drain();
    log_.info("listener " + old->name(),
              "removed: draining " + std::to_string(old->connections()) + " connection(s)");
    draining_.push_back({old, deadline});
    ++report.removed;
  }
  active_ = std::move(next);
  drain_timeout_ = model.gateway.drain_timeout;
  budget_->set_cap(model.gateway.max_buffered_bytes);
  return report;
}

void Gateway::reap() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(draining_, [&](Draining& d) {
    if (d.listener->connections() == 0) {
      log_.info("listener " + d.listener->name(), "drained");
      return true;
    }
    if (now >= d.deadline) {
      log_.warn("listener " + d.listener->name(), "drain deadline passed: closing " +
                                                      std::to_string(d.listener->connections()) +
                                                      " connection(s)");
      d.listener->close_all("listener removed (drain deadline)");
      return true;
    }
    return false;
  });
}

std::size_t Gateway::open_connections() const {
  std::size_t n = 0;
  for (const auto& l : active_) n += l->connections();
  for (const auto& d : draining_) n += d.listener->connections();
  return n;
}

namespace {

// Asks `batch` connections to leave per tick until none are left.
void pace_drain(const std::shared_ptr<boost::asio::steady_timer>& timer,
                const std::shared_ptr<std::vector<std::shared_ptr<transport::Connection>>>& left,
                std::size_t batch, std::chrono::milliseconds tick) {
  for (std::size_t i = 0; i < batch && !left->empty(); ++i) {
    auto c = std::move(left->back());
    left->pop_back();
    boost::asio::post(c->loop(), [c] { c->drain(); });
  }
  if (left->empty()) return;
  timer->expires_after(tick);
  timer->async_wait([weak = std::weak_ptr(timer), left, batch, tick](boost::system::error_code ec) {
    auto alive = weak.lock();
    if (!ec && alive) pace_drain(alive, left, batch, tick);
  });
}

}  // namespace

std::size_t Gateway::drain(boost::asio::io_context& pace, unsigned rate) {
  auto left = std::make_shared<std::vector<std::shared_ptr<transport::Connection>>>();
  for (auto& l : active_) {
    l->stop_accepting();
    auto conns = l->snapshot();
    left->insert(left->end(), conns.begin(), conns.end());
  }
  draining_all_ = true;
  const auto total = left->size();
  // Ten ticks a second: smooth enough for a load balancer, cheap enough for the thread.
  constexpr std::chrono::milliseconds kTick{100};
  const std::size_t batch = rate == 0 ? total : std::max<std::size_t>(1, rate / 10);
  pacer_ = std::make_shared<boost::asio::steady_timer>(pace);
  pace_drain(pacer_, left, batch, kTick);
  log_.info("gateway", "draining " + std::to_string(total) + " connection(s)" +
                           (rate == 0 ? "" : " at " + std::to_string(rate) + "/s"));
  return total;
}

void Gateway::shutdown(std::chrono::milliseconds deadline) {
  pacer_.reset();
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (auto& l : active_) {
    l->stop_accepting();
    l->drain();
    draining_.push_back({l, until});
  }
  active_.clear();
  auto open = [this] {
    std::size_t n = 0;
    for (auto& d : draining_) n += d.listener->connections();
    return n;
  };
  log_.info("gateway", "shutting down: draining " + std::to_string(open()) + " connection(s)");
  while (open() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (const auto left = open(); left > 0) {
    log_.warn("gateway",
              "drain deadline passed: closing " + std::to_string(left) + " connection(s)");
    for (auto& d : draining_) d.listener->close_all("shutdown");
    // Give the loops a moment to run the closes, so adapters see on_closed before exit.
    const auto grace = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (open() > 0 && std::chrono::steady_clock::now() < grace) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  draining_.clear();
}

}  // namespace iotgw::topology
