// What iotgw-hub counts, as Prometheus metrics (iotgw_hub_*) in the Registry that lives in main:
// every counter is looked up here, once, so the place where an event happens pays one relaxed
// atomic add. SIGUSR1's status line reads the same counters as /metrics, so the two cannot
// disagree.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "c2d_queue.hpp"
#include "iotgw/common/metrics.hpp"

namespace iotgw::hub {

// One counter family with one label, a counter per value: indexed by an enum whose values are
// 0..N-1 in the order of `values`.
template <std::size_t N>
class CounterSet {
 public:
  CounterSet(metrics::Registry& registry, std::string_view name, std::string_view help,
             const std::string& label, const std::array<const char*, N>& values) {
    for (std::size_t i = 0; i < N; ++i)
      counters_[i] = &registry.counter(name, help, {{label, values[i]}});
  }
  template <class E>
  metrics::Counter& operator[](E e) const {
    return *counters_[static_cast<std::size_t>(e)];
  }
  std::uint64_t sum() const {
    std::uint64_t total = 0;
    for (const auto* c : counters_) total += c->value();
    return total;
  }

 private:
  std::array<metrics::Counter*, N> counters_{};
};

enum class CbsResult { ok, bad_request, unauthorized, not_found };
enum class LoginResult { ok, refused };
enum class LinkRefusal { unauthorized, not_found };
enum class TelemetryRefusal { too_large, malformed, store_failed };
enum class C2dRefusal {
  bad_address,
  unknown_device,
  too_large,
  queue_full,
  store_failed,
  malformed
};
enum class TwinResult { ok, error };
enum class MethodResult { answered, not_online, timed_out, bad_answer };

// The CBS result a put-token's status code stands for.
CbsResult cbs_result(int status);

struct C2dMetrics {
  explicit C2dMetrics(metrics::Registry& registry);
  metrics::Counter& enqueued;
  CounterSet<6> refused;         // by C2dRefusal
  metrics::Counter& deliveries;  // to a device, redeliveries too
  metrics::Counter& abandoned;   // released, detached with it, or its lock ran out
  CounterSet<4> ended;           // by C2dEnd: completed, or dead-lettered and why
  metrics::Counter& feedback_records;
  metrics::Counter& feedback_messages;
};

struct OperationMetrics {
  explicit OperationMetrics(metrics::Registry& registry);
  CounterSet<2> twin_requests;  // by TwinResult
  metrics::Counter& desired_patches;
  CounterSet<4> method_calls;  // by MethodResult
};

struct HubMetrics {
  explicit HubMetrics(metrics::Registry& registry);
  metrics::Gauge& connections_open;
  metrics::Counter& connections_accepted;
  metrics::Counter& connections_refused;  // over the connection limit
  CounterSet<2> plain_logins;             // by LoginResult
  CounterSet<4> put_tokens;               // by CbsResult
  CounterSet<2> links_refused;            // by LinkRefusal
  metrics::Counter& telemetry_accepted;
  metrics::Counter& telemetry_accepted_bytes;
  CounterSet<3> telemetry_rejected;  // by TelemetryRefusal
  metrics::Counter& telemetry_sent;  // to consumer groups' receivers
  metrics::Gauge& telemetry_retained;
  C2dMetrics c2d;
  OperationMetrics operations;

  // SIGUSR1's line: what the hub took since it started (a benchmark reads the accepted count).
  std::string status() const;
};

}  // namespace iotgw::hub
