// The engine's twin and direct-method side: IoT Hub's `$iothub/` topics turned into operations
// with the hub, and the answers turned back into those topics. As IoT Hub does, a bad request
// gets an error status on the response topic, never a closed connection, and what the device
// receives here goes at QoS 0.
#include "engine.hpp"

namespace iotgw::mqtt {

namespace {

bool success(int status) {
  return status >= 200 && status < 300;
}

// IoT Hub's twin statuses for what the adapter answers itself.
constexpr int kBadRequest = 400;
constexpr int kNotFound = 404;
constexpr int kTooManyRequests = 429;
constexpr int kUnavailable = 503;
constexpr int kNoContent = 204;

// JSON's string escapes, for a message put into an error body.
std::string json_escaped(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

// The body of an error answer, as IoT Hub writes one: JSON with an errorCode and a message.
// Azure's Node device SDK reads nothing else (not the status in the topic): an error answered
// with an empty body, as the bridge's own 503 and 504 are, or with a body lacking errorCode, as
// this adapter's own 400, 429 and 503 were, read as success, so a reported patch the hub never
// got was "done". A body the hub gave with its errorCode goes as it is.
std::string error_body(int status, std::string body, std::string_view reason) {
  if (body.find(R"("errorCode")") != std::string::npos) return body;
  const std::string message = !reason.empty() ? std::string(reason)
                              : !body.empty() ? body
                                              : "status " + std::to_string(status);
  return R"({"errorCode":)" + std::to_string(status) + R"(,"message":")" + json_escaped(message) +
         R"("})";
}

std::string_view name_of(iotgw_op_kind kind) {
  switch (kind) {
    case IOTGW_OP_TWIN_GET: return "twin GET";
    case IOTGW_OP_TWIN_PATCH_REPORTED: return "reported patch";
    case IOTGW_OP_TWIN_WATCH_DESIRED: return "desired watch";
    case IOTGW_OP_TWIN_UNWATCH_DESIRED: return "desired unwatch";
    case IOTGW_OP_METHODS_ENABLE: return "methods enable";
    case IOTGW_OP_METHODS_DISABLE: return "methods disable";
  }
  return "operation";
}

}  // namespace

void Engine::handle_request(const DeviceRequest& request, const Publish& p) {
  using Kind = DeviceRequest::Kind;
  switch (request.kind) {
    case Kind::twin_get: ask_twin(IOTGW_OP_TWIN_GET, request.rid, {}); break;
    // The hub judges the patch (JSON or not) and says so in the response's status.
    case Kind::reported_patch:
      ask_twin(IOTGW_OP_TWIN_PATCH_REPORTED, request.rid, p.payload);
      break;
    case Kind::twin_unknown:
      answer_twin(kBadRequest, request.rid, -1, {}, "no such twin resource");
      break;
    case Kind::method_response: answer_method(request, p.payload); break;
    case Kind::unanswerable: debug(request.why + ": ignored"); break;
  }
  // The response topic carries the outcome; the PUBACK says only that the request was taken.
  if (p.qos == 1) send(Ack{PacketType::puback, p.packet_id});
}

void Engine::ask_twin(iotgw_op_kind kind, const std::string& rid, std::string_view body) {
  if (traffic_seen().operations.size() >= options_->max_operations) {
    answer_twin(kTooManyRequests, rid, -1, {},
                "too many twin requests in flight on this connection");
    return;
  }
  const auto token = host_.request(kind, body);
  if (!token) {
    debug("the host takes no twin requests: 503 for $rid " + rid);
    answer_twin(kUnavailable, rid, -1, {}, "the gateway cannot reach the twin");
    return;
  }
  auto& op = traffic().operations[*token];
  op.kind = kind;
  op.rid = rid;
}

void Engine::answer_twin(int status, std::string_view rid, std::int64_t version, std::string body,
                         std::string_view reason) {
  if (!twin_responses_) {
    debug("twin response " + std::to_string(status) + " for $rid " + std::string(rid) +
          " dropped: no subscription to $iothub/twin/res/#");
    return;
  }
  if (!success(status)) body = error_body(status, std::move(body), reason);
  publish_at_most_once(twin_response_topic(status, rid, version), std::move(body));
}

void Engine::answer_method(const DeviceRequest& request, std::string_view body) {
  const auto call = method_call_of(request.rid);
  if (!call || traffic().method_calls.erase(*call) == 0) {
    debug("method response for $rid " + request.rid + ", which no call awaits: ignored");
    return;
  }
  if (!host_.respond(*call, request.status, body)) {
    debug("method response for $rid " + request.rid + " came after the hub stopped waiting");
  }
}

void Engine::publish_at_most_once(std::string topic, std::string body) {
  Publish p;
  p.topic = std::move(topic);
  p.payload = std::move(body);
  send(p);
}

Engine::HubSubscription* Engine::hub_subscription(HubFilter filter) {
  switch (filter) {
    case HubFilter::desired_patches: return &desired_;
    case HubFilter::methods: return &methods_;
    default: return nullptr;
  }
}

bool Engine::subscribe_to_hub(HubFilter filter, std::uint8_t qos, std::uint64_t ack,
                              std::size_t slot) {
  auto& sub = *hub_subscription(filter);
  const auto token = host_.request(sub.start, {});
  if (!token) {
    debug("the host takes no twin or method subscriptions");
    return false;
  }
  if (sub.state == HubSubscription::State::off) sub.state = HubSubscription::State::pending;
  traffic().operations[*token] = Operation{.kind = sub.start,
                                           .rid = {},
                                           .filter = filter,
                                           .generation = sub.generation,
                                           .ack = ack,
                                           .slot = slot,
                                           .qos = qos};
  return true;
}

// MQTT 3.1.1 keeps a clean_session=0 session's subscriptions, and Azure's Node device SDK relies
// on it: it connects with clean_session=0 and, when it renews its SAS token (by reconnecting, every
// 45 minutes by default), it subscribes to nothing again. Before, only the C2D filters were kept,
// so after the first renewal the device's twin requests went unanswered (answers dropped: "no
// subscription to $iothub/twin/res/#"), and method calls and desired patches no longer came.
void Engine::restore_session(const Filters& stored) {
  for (const auto& [f, qos] : stored) {
    switch (const auto hub = hub_filter(f)) {
      case HubFilter::none: filters_.emplace(f, qos); break;
      case HubFilter::twin_responses: twin_responses_ = true; break;
      case HubFilter::desired_patches:
      case HubFilter::methods: {
        auto& sub = *hub_subscription(hub);
        const auto token = host_.request(sub.start, {});
        if (!token) {
          host_.log_warning("the stored session's " + f + " cannot be asked of the hub");
          break;
        }
        sub.state = HubSubscription::State::pending;
        traffic().operations[*token] = Operation{.kind = sub.start,
                                                 .rid = {},
                                                 .filter = hub,
                                                 .generation = sub.generation,
                                                 .ack = 0,
                                                 .slot = 0,
                                                 .qos = 0,
                                                 .restored = true};
        break;
      }
    }
  }
}

Filters Engine::session_filters() const {
  Filters kept = filters_;
  // IoT Hub's own topics go at QoS 0 whatever was granted.
  if (twin_responses_) kept.emplace("$iothub/twin/res/#", 0);
  // Pending counts: the device was granted it, or is about to be.
  if (desired_.state != HubSubscription::State::off) {
    kept.emplace("$iothub/twin/PATCH/properties/desired/#", 0);
  }
  if (methods_.state != HubSubscription::State::off) kept.emplace("$iothub/methods/POST/#", 0);
  return kept;
}

void Engine::unsubscribe_from_hub(HubFilter filter) {
  if (filter == HubFilter::twin_responses) twin_responses_ = false;
  auto* sub = hub_subscription(filter);
  if (sub == nullptr || sub->state == HubSubscription::State::off) return;
  sub->state = HubSubscription::State::off;
  ++sub->generation;
  // Asked whatever max_operations says: the hub must stop, and there is one per subscription.
  if (const auto token = host_.request(sub->stop, {})) {
    traffic().operations[*token].kind = sub->stop;
  }
}

void Engine::subscribed_by_hub(const Operation& op, const OperationResult& result) {
  auto& sub = *hub_subscription(op.filter);
  const bool granted = success(result.status);
  if (op.generation == sub.generation) {
    sub.state = granted ? HubSubscription::State::on : HubSubscription::State::off;
  }
  if (op.restored) {
    // The device believes it is subscribed and will not ask again: say so where people look.
    if (!granted) {
      host_.log_warning("the stored session's " + std::string(name_of(op.kind)) + " was refused (" +
                        std::to_string(result.status) + " " +
                        std::string(result.reason.empty() ? result.body : result.reason) +
                        "): the device gets no " +
                        (op.filter == HubFilter::methods ? "method calls" : "desired patches") +
                        " until it subscribes again");
    }
    return;
  }
  auto& queued = traffic().acks.at(op.ack);
  std::uint8_t refused = kSubackFailure;
  if (v5() && (result.status == 401 || result.status == 403)) refused = reason::not_authorized;
  if (v5() && result.status == kTooManyRequests) refused = reason::quota_exceeded;
  std::get<Suback>(queued.packet).codes.at(op.slot) = granted ? op.qos : refused;
  --queued.waiting;
  flush_acks();
}

void Engine::on_operation_result(std::uint64_t token, const OperationResult& result) {
  const TrimOnReturn trim_after{*this};
  auto node = traffic().operations.extract(token);
  if (node.empty() || state_ != State::connected) return;
  const auto& op = node.mapped();
  if (!result.reason.empty() || !success(result.status)) {
    debug(
        std::string(name_of(op.kind)) + " answered " + std::to_string(result.status) +
        (result.reason.empty() ? " by the hub" : " by the gateway: " + std::string(result.reason)));
  }
  switch (op.kind) {
    case IOTGW_OP_TWIN_GET:
      answer_twin(result.status, op.rid, -1, std::string(result.body), result.reason);
      break;
    case IOTGW_OP_TWIN_PATCH_REPORTED:
      answer_twin(result.status, op.rid, result.version,
                  result.status == kNoContent ? std::string() : std::string(result.body),
                  result.reason);
      break;
    case IOTGW_OP_TWIN_WATCH_DESIRED:
    case IOTGW_OP_METHODS_ENABLE: subscribed_by_hub(op, result); break;
    case IOTGW_OP_TWIN_UNWATCH_DESIRED:
    case IOTGW_OP_METHODS_DISABLE: break;
  }
  close_if_drained();
}

void Engine::on_hub_request(const HubRequest& request) {
  const TrimOnReturn trim_after{*this};
  if (state_ != State::connected) return;
  switch (request.kind) {
    case IOTGW_HUB_DESIRED_PATCH:
      if (desired_.state == HubSubscription::State::off) {
        debug("desired patch dropped: no subscription to its topic");
        return;
      }
      publish_at_most_once(desired_patch_topic(request.version), std::string(request.body));
      break;
    case IOTGW_HUB_METHOD_CALL: call_method(request); break;
  }
}

void Engine::call_method(const HubRequest& request) {
  if (methods_.state == HubSubscription::State::off) {
    host_.respond(request.id, kNotFound,
                  R"({"message":"the device has not subscribed to method calls"})");
    return;
  }
  auto topic = method_call_topic(request.name, request.id);
  if (!topic) {
    host_.respond(request.id, kBadRequest,
                  R"({"message":"the method name cannot be an MQTT topic level"})");
    return;
  }
  // The host never says a call has timed out; a device that leaves calls unanswered must not
  // grow this without end. The oldest is the one the hub has most likely given up on.
  auto& calls = traffic().method_calls;
  if (calls.size() >= options_->max_operations) {
    debug("method call " + std::to_string(*calls.begin()) + " forgotten: too many unanswered");
    calls.erase(calls.begin());
  }
  calls.insert(request.id);
  publish_at_most_once(std::move(*topic), std::string(request.body));
}

}  // namespace iotgw::mqtt
