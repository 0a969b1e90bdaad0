#include "iotgw/common/metrics.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace iotgw::metrics {

namespace {

// The text format escapes backslash and newline everywhere, and double quotes in label values.
std::string escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return std::to_string(static_cast<std::int64_t>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

void header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(escape(help, false)).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, const std::string& labels, double value) {
  out.append(name).append(labels).append(" ").append(number(value)).append("\n");
}

Labels with(Labels labels, std::string name, std::string value) {
  labels.emplace_back(std::move(name), std::move(value));
  return labels;
}

void render_histogram(std::string& out, std::string_view name, const Labels& labels,
                      const Histogram& h) {
  const auto snap = h.snapshot();
  for (std::size_t i = 0; i < snap.bounds.size(); ++i) {
    sample(out, std::string(name) + "_bucket",
           render_labels(with(labels, "le", number(snap.bounds[i]))),
           static_cast<double>(snap.cumulative[i]));
  }
  sample(out, std::string(name) + "_bucket", render_labels(with(labels, "le", "+Inf")),
         static_cast<double>(snap.cumulative.back()));
  sample(out, std::string(name) + "_sum", render_labels(labels), snap.sum);
  sample(out, std::string(name) + "_count", render_labels(labels),
         static_cast<double>(snap.cumulative.back()));
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    out += labels[i].first + "=\"" + escape(labels[i].second, true) + "\"";
  }
  return out + "}";
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {}

void Histogram::observe(double value) noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

void Scrape::add(std::string_view name, std::string_view help, std::string_view type,
                 const Labels& labels, double value) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{std::string(help), std::string(type), {}})
             .first;
  }
  it->second.samples.emplace_back(labels, value);
}

void Scrape::counter(std::string_view name, std::string_view help, const Labels& labels,
                     double value) {
  add(name, help, "counter", labels, value);
}

void Scrape::gauge(std::string_view name, std::string_view help, const Labels& labels,
                   double value) {
  add(name, help, "gauge", labels, value);
}

Registry::Subscription::Subscription(Subscription&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(other.id_) {}

Registry::Subscription& Registry::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Subscription gone(std::move(*this));
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

Registry::Subscription::~Subscription() {
  if (registry_ == nullptr) return;
  std::lock_guard lock(registry_->mutex_);
  registry_->collectors_.erase(id_);
}

Registry::Series& Registry::series(std::string_view name, std::string_view help,
                                   std::string_view type, const Labels& labels) {
  auto fam = families_.find(name);
  if (fam == families_.end()) {
    fam = families_.emplace(std::string(name), Family{std::string(help), std::string(type), {}})
              .first;
  } else if (fam->second.type != type) {
    // Two callers disagree about what a name is: a programming error, caught by any test.
    throw std::logic_error("metric " + std::string(name) + " is a " + fam->second.type +
                           ", not a " + std::string(type));
  }
  const auto key = render_labels(labels);
  auto s = fam->second.series.find(key);
  if (s == fam->second.series.end())
    s = fam->second.series.emplace(key, Series{labels, {}, {}, {}}).first;
  return s->second;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = series(name, help, "counter", labels);
  if (!s.counter) s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = series(name, help, "gauge", labels);
  if (!s.gauge) s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::span<const double> bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& s = series(name, help, "histogram", labels);
  if (!s.histogram) s.histogram = std::make_unique<Histogram>(bounds);
  return *s.histogram;
}

Registry::Subscription Registry::collect(Collector collector) {
  std::lock_guard lock(mutex_);
  const auto id = next_collector_++;
  collectors_.emplace(id, std::move(collector));
  return {this, id};
}

std::string Registry::render() const {
  Scrape scrape;
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, collector] : collectors_) collector(scrape);
  for (const auto& [name, family] : families_) {
    header(out, name, family.help, family.type);
    for (const auto& [key, s] : family.series) {
      if (s.counter) sample(out, name, key, static_cast<double>(s.counter->value()));
      if (s.gauge) sample(out, name, key, static_cast<double>(s.gauge->value()));
      if (s.histogram) render_histogram(out, name, s.labels, *s.histogram);
    }
  }
  for (const auto& [name, family] : scrape.families_) {
    if (families_.contains(name)) continue;  // a name is one family; the registered one wins
    header(out, name, family.help, family.type);
    for (const auto& [labels, value] : family.samples)
      sample(out, name, render_labels(labels), value);
  }
  return out;
}

void collect_process(Scrape& scrape) {
  // /proc/self/stat: fields after the command's closing parenthesis; utime and stime are the
  // 12th and 13th of them, starttime the 20th, vsize and rss the 21st and 22nd.
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(text.substr(close + 2));
    std::vector<std::string> f;
    for (std::string field; rest >> field;) f.push_back(field);
    if (f.size() > 21) {
      const auto ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
      const auto page = static_cast<double>(::sysconf(_SC_PAGESIZE));
      scrape.counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", {},
                     (std::stod(f[11]) + std::stod(f[12])) / ticks);
      scrape.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", {},
                   std::stod(f[20]));
      scrape.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", {},
                   std::stod(f[21]) * page);
      // Boot time plus the start in ticks since boot.
      std::ifstream procstat("/proc/stat");
      for (std::string line; std::getline(procstat, line);) {
        if (line.rfind("btime ", 0) == 0) {
          scrape.gauge("process_start_time_seconds",
                       "Start time of the process since the Unix epoch, in seconds.", {},
                       std::stod(line.substr(6)) + std::stod(f[19]) / ticks);
        }
      }
    }
  }
  std::error_code ec;
  std::size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  scrape.gauge("process_open_fds", "Number of open file descriptors.", {},
               static_cast<double>(fds));
  const long max_fds = ::sysconf(_SC_OPEN_MAX);
  if (max_fds > 0) {
    scrape.gauge("process_max_fds", "Maximum number of open file descriptors.", {},
                 static_cast<double>(max_fds));
  }
}

}  // namespace iotgw::metrics
