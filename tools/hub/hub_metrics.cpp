#include "hub_metrics.hpp"

namespace iotgw::hub {

CbsResult cbs_result(int status) {
  switch (status) {
    case 200: return CbsResult::ok;
    case 401: return CbsResult::unauthorized;
    case 404: return CbsResult::not_found;
    default: return CbsResult::bad_request;
  }
}

C2dMetrics::C2dMetrics(metrics::Registry& r)
    : enqueued(r.counter("iotgw_hub_c2d_enqueued_total",
                         "C2D messages a service sent that the hub queued.")),
      refused(r, "iotgw_hub_c2d_refused_total", "C2D messages a service sent that the hub refused.",
              "reason",
              {"bad_address", "unknown_device", "too_large", "queue_full", "store_failed",
               "malformed"}),
      deliveries(r.counter("iotgw_hub_c2d_deliveries_total",
                           "C2D messages sent to a device, redeliveries included.")),
      abandoned(r.counter("iotgw_hub_c2d_abandoned_total",
                          "C2D deliveries abandoned: released, detached unsettled, or the lock "
                          "ran out.")),
      ended(r, "iotgw_hub_c2d_ended_total",
            "C2D messages that left their queue: completed, or dead-lettered and why.", "outcome",
            {"completed", "expired", "delivery_count_exceeded", "rejected"}),
      feedback_records(r.counter("iotgw_hub_c2d_feedback_records_total",
                                 "Feedback records written for messages that asked (iothub-ack).")),
      feedback_messages(r.counter("iotgw_hub_c2d_feedback_messages_total",
                                  "Feedback messages sent to services, each with its records.")) {}

OperationMetrics::OperationMetrics(metrics::Registry& r)
    : twin_requests(r, "iotgw_hub_twin_requests_total",
                    "Twin requests from devices, by whether the answer was a success.", "result",
                    {"ok", "error"}),
      desired_patches(r.counter("iotgw_hub_twin_desired_patches_total",
                                "Desired-property patches sent to devices watching them.")),
      method_calls(r, "iotgw_hub_method_calls_total", "Direct method calls, by how they ended.",
                   "result", {"answered", "not_online", "timed_out", "bad_answer"}) {}

HubMetrics::HubMetrics(metrics::Registry& r)
    : connections_open(r.gauge("iotgw_hub_connections", "AMQP connections open now.")),
      connections_accepted(
          r.counter("iotgw_hub_connections_accepted_total", "AMQP connections accepted.")),
      connections_refused(r.counter("iotgw_hub_connections_refused_total",
                                    "AMQP connections closed at once: the hub held its maximum.")),
      plain_logins(r, "iotgw_hub_sasl_plain_logins_total", "SASL PLAIN logins, by result.",
                   "result", {"ok", "refused"}),
      put_tokens(r, "iotgw_hub_cbs_put_tokens_total", "CBS put-token requests, by result.",
                 "result", {"ok", "bad_request", "unauthorized", "not_found"}),
      links_refused(r, "iotgw_hub_links_refused_total",
                    "Links refused at attach: no token for the node, or no such node.", "reason",
                    {"unauthorized", "not_found"}),
      telemetry_accepted(
          r.counter("iotgw_hub_telemetry_accepted_total", "Device telemetry messages accepted.")),
      telemetry_accepted_bytes(
          r.counter("iotgw_hub_telemetry_accepted_bytes_total",
                    "Bytes of accepted telemetry, counted as IoT Hub counts a message's size.")),
      telemetry_rejected(r, "iotgw_hub_telemetry_rejected_total",
                         "Device telemetry messages rejected, by reason.", "reason",
                         {"too_large", "malformed", "store_failed"}),
      telemetry_sent(r.counter("iotgw_hub_telemetry_sent_total",
                               "Telemetry messages sent to consumer groups' receivers.")),
      telemetry_retained(r.gauge("iotgw_hub_telemetry_retained_messages",
                                 "Telemetry messages kept for consumer groups to read.")),
      c2d(r),
      operations(r) {}

std::string HubMetrics::status() const {
  const auto completed = c2d.ended[C2dEnd::success].value();
  return "telemetry accepted " + std::to_string(telemetry_accepted.value()) + " rejected " +
         std::to_string(telemetry_rejected.sum()) + ", C2D completed " + std::to_string(completed) +
         " not completed " + std::to_string(c2d.ended.sum() - completed);
}

}  // namespace iotgw::hub
