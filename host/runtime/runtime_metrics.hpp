// The counters the serving path keeps, looked up once per listener and per stage so a message
// pays a relaxed atomic add and nothing else. Names follow Prometheus's conventions; labels are
// listener and stage names, never devices.
#pragma once

#include <array>
#include <string>

#include "iotgw/abi.h"
#include "iotgw/common/metrics.hpp"

namespace iotgw::runtime {

enum class Direction { upstream, downstream };

// Why a message left the gateway's hands: the hub's or the device's outcome, a stage's verdict,
// or (QoS 0) nothing to wait for.
enum class Outcome { accepted, rejected, released, refused, dropped, sent };

struct ListenerMetrics {
  ListenerMetrics(metrics::Registry& registry, const std::string& listener);

  void message(Direction d, Outcome o) const noexcept;
  void bytes(Direction d, std::size_t n) const noexcept {
    (d == Direction::upstream ? bytes_up : bytes_down).inc(n);
  }
  // The hub's outcome for a message it was sent.
  static Outcome outcome_of(iotgw_outcome o) noexcept;

  metrics::Gauge& open;
  metrics::Counter& accepted;
  metrics::Counter& refused_limit;        // max_connections reached
  metrics::Counter& refused_adapter;      // the adapter would not open it
  metrics::Counter& refused_handshake;    // TLS, DTLS or the WebSocket upgrade failed or timed out
  metrics::Counter& refused_proxy;        // no valid PROXY v2 header in time (proxy_protocol: v2)
  metrics::Counter& refused_per_address;  // max_connections_per_address reached
  metrics::Counter& refused_rate;         // max_connection_rate exceeded
  metrics::Counter& refused_pending;      // max_pending_handshakes reached
  metrics::Gauge& pending;                // connections not yet logged in
  metrics::Counter& throttled_slowed;     // a device over its rate: its reading paused
  metrics::Counter& throttled_refused;    // a device over its rate: a message refused
  metrics::Counter& logins_ok;            // the authenticators and the hub took the device
  metrics::Counter& logins_refused;       // an authenticator said no
  metrics::Counter& logins_unavailable;   // the hub did not take it
  metrics::Counter& bytes_up;
  metrics::Counter& bytes_down;
  metrics::Histogram& upstream_latency;

 private:
  static constexpr int kOutcomes = 6;
  std::array<metrics::Counter*, kOutcomes> up_{};
  std::array<metrics::Counter*, kOutcomes> down_{};
};

struct StageMetrics {
  StageMetrics(metrics::Registry& registry, const std::string& stage);

  metrics::Counter& auth_accepted;
  metrics::Counter& auth_refused;
  metrics::Counter& errors_up;  // a transform refused a message (or threw)
  metrics::Counter& errors_down;
  metrics::Counter& drops_up;
  metrics::Counter& drops_down;
};

}  // namespace iotgw::runtime
