// The engine's messages: PUBLISH upstream (topics, MQTT 5 properties and aliases, the hub's
// answer as a PUBACK) and cloud-to-device messages down (the granted QoS, MQTT 5's Receive
// Maximum, Maximum Packet Size and topic aliases).
#include "engine.hpp"

#include <algorithm>

#include "codec/topic_filter.hpp"
#include "iotgw/common/clock.hpp"
#include "message_properties.hpp"

namespace iotgw::mqtt {

namespace {

// The PUBACK code for what the hub (or a stage) refused, read from the reason it gave: AMQP's
// error conditions name the cases MQTT 5 has codes for.
std::uint8_t refusal_code(const std::string& why) {
  if (why.find("unauthorized") != std::string::npos) return reason::not_authorized;
  if (why.find("resource-limit") != std::string::npos || why.find("throttl") != std::string::npos ||
      why.find("quota") != std::string::npos) {
    return reason::quota_exceeded;
  }
  return reason::implementation_specific;
}

}  // namespace

bool Engine::resolve_alias(Publish& p) {
  if (!p.props.topic_alias) return true;
  const auto alias = *p.props.topic_alias;
  if (alias == 0 || alias > options_->topic_alias_maximum) {
    fail("topic alias " + std::to_string(alias) + " is outside 1.." +
             std::to_string(options_->topic_alias_maximum),
         reason::topic_alias_invalid);
    return false;
  }
  auto& aliases = traffic().aliases_in;
  if (aliases.size() < alias) aliases.resize(alias);
  auto& known = aliases[alias - 1];
  if (p.topic.empty()) {
    if (known.empty()) {
      fail("topic alias " + std::to_string(alias) + " was never set", reason::protocol_error);
      return false;
    }
    p.topic = known;
  } else {
    known = p.topic;
  }
  return true;
}

void Engine::refuse_publish(const Publish& p, std::uint8_t code, const std::string& why) {
  if (!v5() || p.qos == 0) {
    fail(why, code);
    return;
  }
  host_.log_warning(device_ + ": PUBLISH " + std::to_string(p.packet_id) + " refused: " + why);
  Ack ack{PacketType::puback, p.packet_id, code, {}};
  ack.props.reason_string = why;
  send(ack);
}

void Engine::handle(Publish& p) {
  if (p.qos == 2) {
    fail("QoS 2 is not served", reason::qos_not_supported);
    return;
  }
  if (v5()) {
    if (p.retain) {
      fail("retained messages are not served", reason::retain_not_supported);
      return;
    }
    if (!p.props.subscription_ids.empty()) {
      fail("a client's PUBLISH may not carry a subscription identifier", reason::protocol_error);
      return;
    }
    if (p.qos == 1 && traffic_seen().upstream.size() >= options_->max_inflight) {
      fail("more than Receive Maximum (" + std::to_string(options_->max_inflight) +
               ") QoS 1 publishes unacknowledged",
           reason::receive_maximum_exceeded);
      return;
    }
    if (!resolve_alias(p)) return;
  }
  if (const auto request = parse_device_request(p.topic)) {
    handle_request(*request, p);
    return;
  }
  if (names_another_device(p.topic, device_)) {
    refuse_publish(p, reason::not_authorized, "publish as another device: '" + p.topic + "'");
    return;
  }
  if (p.props.payload_format == 1 && !valid_mqtt_utf8(p.payload)) {
    refuse_publish(p, reason::payload_format_invalid,
                   "the payload format indicator says UTF-8, and the payload is not");
    return;
  }
  const auto bag = telemetry_bag(p.topic, device_);
  MessageData message;
  if (bag) {
    std::string error;
    auto props = parse_bag(*bag, error);
    if (!props) {
      refuse_publish(p, reason::topic_name_invalid, "topic '" + p.topic + "': " + error);
      return;
    }
    message.props = std::move(*props);
  } else if (options_->map_other_topics && mappable_topic(p.topic)) {
    message.annotations = {{"mqtt-topic", p.topic}, {"iotgw-unmapped", "true"}};
  } else {
    refuse_publish(p, reason::topic_name_invalid, "topic '" + p.topic + "' is not served");
    return;
  }
  if (v5()) add_message_properties(p.props, unix_millis(), message.props);
  message.body = std::move(p.payload);
  const auto sent = host_.send_upstream(std::move(message), p.qos == 1);
  if (sent.status == IOTGW_ERR_LIMIT) {
    // Over the device's rate (MQTT 5 only): QoS 0 is dropped, as at most once allows; QoS 1
    // hears Quota exceeded and may send it again later. Logged at debug: a device that floods
    // must not flood the log as well.
    host_.log_debug(device_ + ": PUBLISH " + std::to_string(p.packet_id) +
                    " refused: over the device's rate");
    if (p.qos == 1) send(Ack{PacketType::puback, p.packet_id, reason::quota_exceeded, {}});
    return;
  }
  if (p.qos == 0) return;
  if (sent.status != IOTGW_OK) {
    refuse_publish(p, reason::implementation_specific, "the gateway could not take the message");
    return;
  }
  traffic().upstream[sent.token] = p.packet_id;
  // MQTT 5 clients keep to the Receive Maximum themselves; 3.1.1 ones are slowed here.
  if (!v5() && traffic().upstream.size() >= options_->max_inflight && !paused_) {
    paused_ = true;
    host_.pause_reading(true);
  }
}

void Engine::on_upstream_result(std::uint64_t token, iotgw_outcome outcome,
                                const std::string& why) {
  const TrimOnReturn trim_after{*this};
  auto& upstream = traffic().upstream;
  auto it = upstream.find(token);
  if (it == upstream.end() || state_ != State::connected) return;
  const auto packet_id = it->second;
  upstream.erase(it);
  if (outcome == IOTGW_REJECTED && v5()) {
    // It will never be accepted: MQTT 5 says so in the PUBACK, and the client goes on.
    Ack ack{PacketType::puback, packet_id, refusal_code(why), {}};
    ack.props.reason_string = "not accepted upstream: " + why;
    send(ack);
  } else if (outcome != IOTGW_ACCEPTED) {
    // Released, or MQTT 3.1.1, which has no negative PUBACK: without one, the device sends the
    // message again after it reconnects.
    fail("message " + std::to_string(packet_id) + " not accepted upstream: " + why,
         reason::server_busy);
    return;
  } else {
    send(Ack{PacketType::puback, packet_id});
  }
  close_if_drained();
  if (state_ == State::closed) return;
  if (paused_ && !draining_ && traffic_seen().upstream.size() < options_->max_inflight) {
    paused_ = false;
    host_.pause_reading(false);
  }
}

void Engine::handle(const Ack& a) {
  if (a.type != PacketType::puback) {
    fail("QoS 2 is not served", reason::protocol_error);
    return;
  }
  auto& downstream = traffic().downstream;
  auto it = downstream.find(a.packet_id);
  if (it == downstream.end()) return;  // a PUBACK for something we no longer hold
  if (a.reason >= reason::unspecified) {
    // An MQTT 5 device refused it: the hub dead-letters it rather than offering it again.
    host_.settle(it->second, IOTGW_REJECTED,
                 "the device answered " + std::to_string(a.reason) +
                     (a.props.reason_string ? ": " + *a.props.reason_string : std::string()));
  } else {
    host_.settle(it->second, IOTGW_ACCEPTED);
  }
  downstream.erase(it);
  send_waiting_downstream();
}

std::optional<std::string> Engine::downstream_topic(const MessageData& message, std::uint8_t& qos,
                                                    std::string& why) const {
  const auto mapped = std::find_if(message.annotations.begin(), message.annotations.end(),
                                   [](const Property& a) { return a.first == "mqtt-topic"; });
  const auto devicebound = c2d_filter(device_);
  if (mapped == message.annotations.end()) {
    const auto granted = filters_.find(devicebound);
    if (granted == filters_.end()) {
      why = "device '" + device_ + "' subscribed to no devicebound filter";
      return std::nullopt;
    }
    qos = granted->second;
    return c2d_topic(device_, message.props);
  }
  const auto& topic = mapped->second;
  if (topic.empty() || topic.find_first_of("+#") != std::string::npos) {
    why = "mapped topic '" + topic + "' is empty or has wildcards";
    return std::nullopt;
  }
  // The highest QoS any matching filter was granted, as MQTT delivers overlapping ones.
  bool asked = false;
  qos = 0;
  for (const auto& [f, granted] : filters_) {
    if (f != devicebound && filter_matches(f, topic)) {
      asked = true;
      qos = std::max(qos, granted);
    }
  }
  if (!asked) {
    why = "device '" + device_ + "' subscribed to no filter matching '" + topic + "'";
    return std::nullopt;
  }
  return topic;
}

void Engine::on_downstream(MessageData message, std::uint64_t delivery) {
  const TrimOnReturn trim_after{*this};
  if (state_ != State::connected) {
    host_.settle(delivery, IOTGW_RELEASED);
    return;
  }
  // MQTT 5's Receive Maximum: the rest waits here (the bridge's credit bounds how many).
  if (v5() && (traffic_seen().downstream.size() >= client_receive_max_ ||
               !traffic_seen().waiting_downstream.empty())) {
    traffic().waiting_downstream.emplace_back(std::move(message), delivery);
    return;
  }
  send_downstream(std::move(message), delivery);
}

void Engine::send_waiting_downstream() {
  auto& t = traffic();
  std::size_t sent = 0;
  while (sent < t.waiting_downstream.size() && t.downstream.size() < client_receive_max_ &&
         state_ == State::connected) {
    auto& [message, delivery] = t.waiting_downstream[sent++];
    send_downstream(std::move(message), delivery);
  }
  t.waiting_downstream.erase(t.waiting_downstream.begin(),
                             t.waiting_downstream.begin() + static_cast<std::ptrdiff_t>(sent));
}

void Engine::send_downstream(MessageData message, std::uint64_t delivery) {
  std::uint8_t qos = 1;
  Publish p;
  if (v5()) p.props = take_message_properties(message.props, unix_millis());
  std::string why;
  auto topic = downstream_topic(message, qos, why);
  if (!topic) {
    // Rejected, not released: the hub would only offer it again to a device that never asked.
    host_.log_warning("C2D message refused: " + why);
    host_.settle(delivery, IOTGW_REJECTED, why);
    return;
  }
  p.topic = std::move(*topic);
  p.payload = std::move(message.body);
  p.qos = qos;
  p.dup = qos == 1 && message.redelivered;
  if (qos == 1) {
    // A free packet id: the bridge's credit keeps far fewer than 65535 in flight.
    while (next_packet_id_ == 0 || traffic().downstream.count(next_packet_id_) != 0)
      ++next_packet_id_;
    p.packet_id = next_packet_id_++;
  }
  alias_outbound(p);
  out_.clear();
  encode(p, out_, level_);
  if (client_max_packet_ != 0 && out_.size() > client_max_packet_) {
    // MQTT 5 forbids sending it; it would never fit, so the hub dead-letters it.
    why = "C2D message of " + std::to_string(out_.size()) +
          " bytes is over the device's Maximum Packet Size of " +
          std::to_string(client_max_packet_);
    host_.log_warning(device_ + ": " + why);
    host_.settle(delivery, IOTGW_REJECTED, why);
    return;
  }
  host_.write(out_);
  if (qos == 1) {
    traffic().downstream[p.packet_id] = delivery;
  } else {
    // Granted QoS 0: the device never acknowledges, so it is done once written.
    host_.settle(delivery, IOTGW_ACCEPTED);
  }
}

void Engine::alias_outbound(Publish& p) {
  if (client_alias_max_ == 0) return;
  auto& aliases = traffic().aliases_out;
  if (auto it = aliases.find(p.topic); it != aliases.end()) {
    p.props.topic_alias = it->second;
    p.topic.clear();
  } else if (aliases.size() < client_alias_max_) {
    const auto alias = static_cast<std::uint16_t>(aliases.size() + 1);
    aliases.emplace(p.topic, alias);
    p.props.topic_alias = alias;
  }
}

}  // namespace iotgw::mqtt
