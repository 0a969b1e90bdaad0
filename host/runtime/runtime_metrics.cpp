#include "runtime/runtime_metrics.hpp"

namespace iotgw::runtime {

namespace {

constexpr std::array<const char*, 6> kOutcomeNames{"accepted", "rejected", "released",
                                                   "refused",  "dropped",  "sent"};

metrics::Counter& refused(metrics::Registry& r, const std::string& listener, const char* reason) {
  return r.counter("iotgw_connections_refused_total",
                   "Connections closed before a device could log in, by reason.",
                   {{"listener", listener}, {"reason", reason}});
}

metrics::Counter& throttled(metrics::Registry& r, const std::string& listener, const char* action) {
  return r.counter("iotgw_device_throttled_total",
                   "Devices over device_message_rate or device_byte_rate: slowed (reading "
                   "paused until the rate allows) or refused (a message refused, MQTT 5).",
                   {{"listener", listener}, {"action", action}});
}

metrics::Counter& login(metrics::Registry& r, const std::string& listener, const char* result) {
  return r.counter("iotgw_device_logins_total",
                   "Device logins by result: ok, refused (an auth stage said no), unavailable "
                   "(the hub did not take the device).",
                   {{"listener", listener}, {"result", result}});
}

metrics::Counter& byte_counter(metrics::Registry& r, const std::string& listener,
                               const char* direction) {
  return r.counter("iotgw_message_bytes_total",
                   "Payload bytes passed to the hub (upstream) or to devices (downstream).",
                   {{"listener", listener}, {"direction", direction}});
}

metrics::Counter& auth(metrics::Registry& r, const std::string& stage, const char* result) {
  return r.counter("iotgw_auth_results_total", "What each auth stage answered.",
                   {{"stage", stage}, {"result", result}});
}

metrics::Counter& stage_count(metrics::Registry& r, const char* name, const char* help,
                              const std::string& stage, const char* direction) {
  return r.counter(name, help, {{"stage", stage}, {"direction", direction}});
}

constexpr const char* kErrorsHelp = "Messages a transform stage refused.";
constexpr const char* kDropsHelp = "Messages a transform stage dropped on purpose.";

}  // namespace

ListenerMetrics::ListenerMetrics(metrics::Registry& r, const std::string& listener)
    : open(r.gauge("iotgw_connections_open", "Device connections open now.",
                   {{"listener", listener}})),
      accepted(r.counter("iotgw_connections_accepted_total",
                         "Device connections accepted (UDP: sessions started).",
                         {{"listener", listener}})),
      refused_limit(refused(r, listener, "max_connections")),
      refused_adapter(refused(r, listener, "adapter")),
      refused_handshake(refused(r, listener, "handshake")),
      refused_proxy(refused(r, listener, "proxy_protocol")),
      refused_per_address(refused(r, listener, "max_connections_per_address")),
      refused_rate(refused(r, listener, "max_connection_rate")),
      refused_pending(refused(r, listener, "max_pending_handshakes")),
      pending(r.gauge("iotgw_connections_pending",
                      "Connections open whose device has not logged in yet (handshakes, "
                      "upgrades, PROXY headers, logins waiting for an answer).",
                      {{"listener", listener}})),
      throttled_slowed(throttled(r, listener, "slowed")),
      throttled_refused(throttled(r, listener, "refused")),
      logins_ok(login(r, listener, "ok")),
      logins_refused(login(r, listener, "refused")),
      logins_unavailable(login(r, listener, "unavailable")),
      bytes_up(byte_counter(r, listener, "upstream")),
      bytes_down(byte_counter(r, listener, "downstream")),
      upstream_latency(
          r.histogram("iotgw_upstream_latency_seconds",
                      "From a QoS 1 message handed to the bridge to the hub's outcome.",
                      metrics::kLatencyBounds, {{"listener", listener}})) {
  for (int i = 0; i < kOutcomes; ++i) {
    const auto name = "iotgw_messages_total";
    const auto help =
        "Messages by direction and outcome: accepted, rejected or released by the hub "
        "(upstream) or the device (downstream), refused or dropped by a stage, sent (QoS 0).";
    up_[i] = &r.counter(
        name, help,
        {{"listener", listener}, {"direction", "upstream"}, {"outcome", kOutcomeNames[i]}});
    down_[i] = &r.counter(
        name, help,
        {{"listener", listener}, {"direction", "downstream"}, {"outcome", kOutcomeNames[i]}});
  }
}

void ListenerMetrics::message(Direction d, Outcome o) const noexcept {
  (d == Direction::upstream ? up_ : down_)[static_cast<int>(o)]->inc();
}

Outcome ListenerMetrics::outcome_of(iotgw_outcome o) noexcept {
  switch (o) {
    case IOTGW_ACCEPTED: return Outcome::accepted;
    case IOTGW_REJECTED: return Outcome::rejected;
    default: return Outcome::released;
  }
}

StageMetrics::StageMetrics(metrics::Registry& r, const std::string& stage)
    : auth_accepted(auth(r, stage, "accepted")),
      auth_refused(auth(r, stage, "refused")),
      errors_up(stage_count(r, "iotgw_stage_errors_total", kErrorsHelp, stage, "upstream")),
      errors_down(stage_count(r, "iotgw_stage_errors_total", kErrorsHelp, stage, "downstream")),
      drops_up(stage_count(r, "iotgw_stage_drops_total", kDropsHelp, stage, "upstream")),
      drops_down(stage_count(r, "iotgw_stage_drops_total", kDropsHelp, stage, "downstream")) {}

}  // namespace iotgw::runtime
