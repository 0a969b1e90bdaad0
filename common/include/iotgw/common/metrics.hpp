// Counters, gauges and histograms an operator scrapes in Prometheus's text format (the
// exposition format 0.0.4). The hot path holds a reference to its metric and pays one relaxed
// atomic add; names, labels and the lock are paid once, when the metric is looked up.
//
// One Registry lives in main and is passed down, like the Logger. Looking a metric up again with
// the same name and labels returns the same one, so a listener kept across a reload keeps
// counting where it was. Values that something else already keeps (the bridge's devices, a
// process's memory) are read at scrape time by a collector instead of being copied on every
// change.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iotgw::metrics {

// Label names and values, in the order they are rendered. Never a device id: a label's values
// must stay few (Prometheus keeps a series per combination).
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::int64_t n) noexcept { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Cumulative buckets as Prometheus wants them: bucket i counts observations <= bounds[i], and
// +Inf counts them all.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);
  void observe(double value) noexcept;

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<double> sum_{0};
};

// Upstream latency in seconds: from a message handed to the bridge to the hub's outcome.
inline constexpr std::array<double, 12> kLatencyBounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                       0.05,   0.1,   0.25,   0.5,   1,    2.5};

// What a collector reports at scrape time.
class Scrape {
 public:
  void counter(std::string_view name, std::string_view help, const Labels& labels, double value);
  void gauge(std::string_view name, std::string_view help, const Labels& labels, double value);

 private:
  friend class Registry;
  struct Family {
    std::string help, type;
    std::vector<std::pair<Labels, double>> samples;
  };
  void add(std::string_view name, std::string_view help, std::string_view type,
           const Labels& labels, double value);
  std::map<std::string, Family, std::less<>> families_;
};

class Registry {
 public:
  using Collector = std::function<void(Scrape&)>;

  // Removes its collector when it goes: whoever owns what the collector reads owns this too.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Registry* registry, std::uint64_t id) : registry_(registry), id_(id) {}
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription();

   private:
    Registry* registry_ = nullptr;
    std::uint64_t id_ = 0;
  };

  // `name` follows Prometheus's conventions: a counter's ends in _total, units are base units.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& histogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                       const Labels& labels = {});
  [[nodiscard]] Subscription collect(Collector collector);

  // Every metric and every collector's, as text/plain; version=0.0.4. Any thread.
  std::string render() const;

 private:
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string help, type;
    std::map<std::string, Series, std::less<>> series;  // by rendered labels
  };
  Series& series(std::string_view name, std::string_view help, std::string_view type,
                 const Labels& labels);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::map<std::uint64_t, Collector> collectors_;
  std::uint64_t next_collector_ = 1;
};

// The Content-Type of what render() gives.
inline constexpr const char* kTextFormat = "text/plain; version=0.0.4; charset=utf-8";

// {a="x",b="y"}, escaped as the text format wants; empty for no labels.
std::string render_labels(const Labels& labels);

// The process_* metrics every Prometheus client library exports (from /proc/self): CPU seconds,
// resident and virtual memory, open and maximum descriptors, start time.
void collect_process(Scrape& scrape);

}  // namespace iotgw::metrics
