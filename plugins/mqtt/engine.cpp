#include "engine.hpp"

#include "codec/topic_filter.hpp"

#include <algorithm>

namespace iotgw::mqtt {

namespace {

// `{host}/{device}/?api-version=...`: the host and device parts of an IoT Hub user name.
bool split_username(std::string_view user, std::string_view& host, std::string_view& device) {
  const auto first = user.find('/');
  if (first == std::string_view::npos) return false;
  const auto second = user.find('/', first + 1);
  host = user.substr(0, first);
  device = user.substr(
      first + 1, second == std::string_view::npos ? std::string_view::npos : second - first - 1);
  return !host.empty() && !device.empty();
}

// Topics and filters a mapping may use: none of IoT Hub's own, under `devices/` or `$`.
bool mappable(std::string_view topic) {
  return !topic.starts_with("devices/") && !topic.starts_with("$");
}

}  // namespace

Engine::Engine(EngineHost& host, EngineOptions options)
    : host_(host), options_(std::move(options)) {
  limits_.max_packet = options_.max_packet;
  host_.set_timer(Timer::connect, options_.connect_timeout);
}

std::size_t Engine::on_bytes(std::span<const std::uint8_t> data) {
  std::size_t used = 0;
  bool any_packet = false;
  while (used < data.size() && state_ != State::closed && state_ != State::authenticating &&
         !paused_ && !host_.reading_held()) {
    Packet packet;
    std::size_t n = 0;
    std::string error;
    const auto result = decode(data.subspan(used), limits_, packet, n, error);
    if (result == Decoded::need_more) break;
    if (result == Decoded::malformed) {
      fail("malformed packet: " + error);
      break;
    }
    used += n;
    if (state_ == State::awaiting_connect && !std::holds_alternative<Connect>(packet)) {
      fail("the first packet is not CONNECT");
      break;
    }
    any_packet = true;
    std::visit([this](auto& p) { handle(p); }, packet);
  }
  if (any_packet)
    last_packet_ = host_.now();  // any packet is a sign of life; one clock read a batch
  // Once closing, the rest is of no interest.
  return state_ == State::closed ? data.size() : used;
}

void Engine::handle(Connect& c) {
  if (state_ != State::awaiting_connect) {
    fail("a second CONNECT");
    return;
  }
  host_.cancel_timer(Timer::connect);
  const bool known =
      (c.protocol_name == "MQTT" && c.level == 4) || (c.protocol_name == "MQIsdp" && c.level == 3);
  if (!known) {
    refuse_connect(ConnectCode::unacceptable_protocol,
                   "protocol " + c.protocol_name + " level " + std::to_string(c.level) +
                       " is not served (MQTT 3.1.1 and 3.1 are)");
    return;
  }
  if (c.client_id.empty()) {
    refuse_connect(ConnectCode::identifier_rejected, "an empty client id (the device id)");
    return;
  }
  // An IoT Hub user name is checked here; any other user name (no '/') is for the auth stages
  // alone (auth-file maps user names to devices).
  if (c.username && c.username->find('/') != std::string::npos) {
    std::string_view host, device;
    if (!split_username(*c.username, host, device)) {
      refuse_connect(ConnectCode::bad_credentials,
                     "user name '" + *c.username + "' is not {hub}/{device}/?api-version=...");
      return;
    }
    if (!options_.hostname.empty() && host != options_.hostname) {
      refuse_connect(ConnectCode::bad_credentials,
                     "user name names hub '" + std::string(host) + "', not " + options_.hostname);
      return;
    }
    if (device != c.client_id) {
      refuse_connect(ConnectCode::not_authorized, "user name names device '" + std::string(device) +
                                                      "', client id '" + c.client_id + "'");
      return;
    }
  }
  const auto cap = std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_keep_alive);
  keep_alive_ =
      c.keep_alive == 0 ? cap : std::min(cap, std::chrono::milliseconds(c.keep_alive * 1500LL));
  clean_session_ = c.clean_session;
  connect_ = std::move(c);
  state_ = State::authenticating;
  auto token = host_.authenticate(
      {connect_.client_id, connect_.username.value_or(""), connect_.password.value_or("")});
  if (!token) {
    refuse_connect(ConnectCode::server_unavailable, "authentication could not start");
    return;
  }
  auth_token_ = *token;
  // Packets sent right behind CONNECT wait in the host's buffer until CONNACK.
  host_.pause_reading(true);
}

void Engine::on_auth_result(std::uint64_t token, iotgw_status status, const std::string& device_id,
                            const std::string& reason) {
  if (state_ != State::authenticating || token != auth_token_) return;
  if (status != IOTGW_OK) {
    const auto code = status == IOTGW_ERR_REFUSED       ? ConnectCode::bad_credentials
                      : status == IOTGW_ERR_UNAVAILABLE ? ConnectCode::server_unavailable
                                                        : ConnectCode::not_authorized;
    refuse_connect(code, "authentication refused: " + reason);
    return;
  }
  device_ = device_id;
  state_ = State::connected;
  // Only the will is needed from here on; an idle device should not carry its token.
  Connect kept;
  kept.will = std::move(connect_.will);
  connect_ = std::move(kept);
  Filters stored;
  const bool present = host_.resume_session(device_, clean_session_, stored);
  send(Connack{present, ConnectCode::accepted});
  restore_session(stored);
  if (!filters_.empty()) host_.set_downstream(true);
  arm_keep_alive();
  host_.pause_reading(false);
}

void Engine::handle(Publish& p) {
  if (p.qos == 2) {
    fail("QoS 2 is not served");
    return;
  }
  if (const auto request = parse_device_request(p.topic)) {
    handle_request(*request, p);
    return;
  }
  if (names_another_device(p.topic, device_)) {
    fail("publish as another device: '" + p.topic + "'");
    return;
  }
  const auto bag = telemetry_bag(p.topic, device_);
  MessageData message;
  if (bag) {
    std::string error;
    auto props = parse_bag(*bag, error);
    if (!props) {
      fail("topic '" + p.topic + "': " + error);
      return;
    }
    message.props = std::move(*props);
  } else if (options_.map_other_topics && mappable(p.topic)) {
    message.annotations = {{"mqtt-topic", p.topic}, {"iotgw-unmapped", "true"}};
  } else {
    fail("topic '" + p.topic + "' is not served");
    return;
  }
  message.body = std::move(p.payload);
  if (p.qos == 0) {
    host_.send_upstream(std::move(message), false);
    return;
  }
  const auto token = host_.send_upstream(std::move(message), true);
  if (!token) {
    fail("the gateway could not take the message");
    return;
  }
  upstream_[*token] = p.packet_id;
  if (upstream_.size() >= options_.max_inflight && !paused_) {
    paused_ = true;
    host_.pause_reading(true);
  }
}

void Engine::on_upstream_result(std::uint64_t token, iotgw_outcome outcome,
                                const std::string& reason) {
  auto it = upstream_.find(token);
  if (it == upstream_.end() || state_ != State::connected) return;
  const auto packet_id = it->second;
  upstream_.erase(it);
  if (outcome != IOTGW_ACCEPTED) {
    // MQTT 3.1.1 has no negative PUBACK: without one, the device sends the message again after
    // it reconnects.
    fail("message " + std::to_string(packet_id) + " not accepted upstream: " + reason);
    return;
  }
  send(Ack{PacketType::puback, packet_id});
  close_if_drained();
  if (state_ == State::closed) return;
  if (paused_ && !draining_ && upstream_.size() < options_.max_inflight) {
    paused_ = false;
    host_.pause_reading(false);
  }
}

void Engine::handle(const Ack& a) {
  if (a.type != PacketType::puback) {
    fail("QoS 2 is not served");
    return;
  }
  auto it = downstream_.find(a.packet_id);
  if (it == downstream_.end()) return;  // a PUBACK for something we no longer hold
  host_.settle(it->second, IOTGW_ACCEPTED);
  downstream_.erase(it);
}

void Engine::handle(const Subscribe& s) {
  const bool was_subscribed = !filters_.empty();
  const auto ack = next_ack_++;
  auto& queued = acks_[ack];
  Suback suback{s.packet_id, {}};
  for (const auto& sub : s.subscriptions) {
    const auto granted = std::min<std::uint8_t>(sub.qos, 1);
    const auto hub = hub_filter(sub.filter);
    if (sub.filter == c2d_filter(device_) || (options_.map_other_topics && mappable(sub.filter))) {
      suback.codes.push_back(granted);
      filters_.insert(sub.filter);
    } else if (hub == HubFilter::twin_responses) {
      suback.codes.push_back(granted);
      twin_responses_ = true;
    } else if (hub != HubFilter::none && subscribe_to_hub(hub, granted, ack, suback.codes.size())) {
      suback.codes.push_back(kSubackFailure);  // until the hub agrees
      ++queued.waiting;
    } else {
      suback.codes.push_back(kSubackFailure);
    }
  }
  queued.packet = std::move(suback);
  flush_acks();
  subscribe_changed(was_subscribed);
}

void Engine::handle(const Unsubscribe& u) {
  const bool was_subscribed = !filters_.empty();
  for (const auto& f : u.filters) {
    filters_.erase(f);
    unsubscribe_from_hub(hub_filter(f));
  }
  acks_[next_ack_++].packet = Ack{PacketType::unsuback, u.packet_id};
  flush_acks();
  subscribe_changed(was_subscribed);
}

void Engine::flush_acks() {
  while (!acks_.empty() && acks_.begin()->second.waiting == 0) {
    send(acks_.begin()->second.packet);
    acks_.erase(acks_.begin());
  }
}

// The bridge's C2D link is there while any filter is: opened by the first, closed after the last.
void Engine::subscribe_changed(bool was_subscribed) {
  if (was_subscribed != !filters_.empty()) host_.set_downstream(!was_subscribed);
}

void Engine::handle(const Bare& b) {
  switch (b.type) {
    case PacketType::pingreq: send(Bare{PacketType::pingresp}); break;
    case PacketType::disconnect:
      disconnected_ = true;
      state_ = State::closed;
      host_.close("the client disconnected");
      break;
    default: fail("a client may not send that packet"); break;
  }
}

std::optional<std::string> Engine::downstream_topic(const MessageData& message,
                                                    std::string& why) const {
  const auto mapped = std::find_if(message.annotations.begin(), message.annotations.end(),
                                   [](const Property& a) { return a.first == "mqtt-topic"; });
  const auto devicebound = c2d_filter(device_);
  if (mapped == message.annotations.end()) {
    if (filters_.count(devicebound) == 0) {
      why = "device '" + device_ + "' subscribed to no devicebound filter";
      return std::nullopt;
    }
    return c2d_topic(device_, message.props);
  }
  const auto& topic = mapped->second;
  if (topic.empty() || topic.find_first_of("+#") != std::string::npos) {
    why = "mapped topic '" + topic + "' is empty or has wildcards";
    return std::nullopt;
  }
  const bool asked = std::any_of(filters_.begin(), filters_.end(), [&](const std::string& f) {
    return f != devicebound && filter_matches(f, topic);
  });
  if (!asked) {
    why = "device '" + device_ + "' subscribed to no filter matching '" + topic + "'";
    return std::nullopt;
  }
  return topic;
}

void Engine::on_downstream(MessageData message, std::uint64_t delivery) {
  if (state_ != State::connected) {
    host_.settle(delivery, IOTGW_RELEASED);
    return;
  }
  std::string why;
  auto topic = downstream_topic(message, why);
  if (!topic) {
    // Rejected, not released: the hub would only offer it again to a device that never asked.
    host_.log_warning("C2D message refused: " + why);
    host_.settle(delivery, IOTGW_REJECTED, why);
    return;
  }
  // A free packet id: the bridge's credit keeps far fewer than 65535 in flight.
  while (next_packet_id_ == 0 || downstream_.count(next_packet_id_) != 0) ++next_packet_id_;
  const std::uint16_t id = next_packet_id_++;
  downstream_[id] = delivery;
  Publish p;
  p.topic = std::move(*topic);
  p.payload = std::move(message.body);
  p.qos = 1;
  p.dup = message.redelivered;
  p.packet_id = id;
  send(p);
}

void Engine::on_timer(Timer timer) {
  if (timer == Timer::connect && state_ == State::awaiting_connect) {
    state_ = State::closed;
    host_.close("no CONNECT within " + std::to_string(options_.connect_timeout.count()) + " ms");
  } else if (timer == Timer::keep_alive && state_ == State::connected) {
    // The timer runs once per period, not re-armed per packet (that was a cancelled wait for
    // every message): if a packet came meanwhile, it waits out the rest from that packet.
    const auto quiet =
        std::chrono::duration_cast<std::chrono::milliseconds>(host_.now() - last_packet_);
    if (quiet < keep_alive_) {
      host_.set_timer(Timer::keep_alive, keep_alive_ - quiet);
      return;
    }
    fail("keep-alive expired: nothing received for " + std::to_string(keep_alive_.count()) + " ms");
  }
}

void Engine::on_drain() {
  if (state_ == State::closed || draining_) return;
  draining_ = true;
  if (!paused_) {
    paused_ = true;
    host_.pause_reading(true);
  }
  close_if_drained();
}

void Engine::close_if_drained() {
  if (draining_ && state_ != State::closed && upstream_.empty() && operations_.empty()) {
    state_ = State::closed;
    host_.close("the gateway is draining");
  }
}

void Engine::on_closed() {
  if (state_ == State::connected || (state_ == State::closed && !device_.empty())) {
    if (!disconnected_) send_will();
    if (!clean_session_) host_.store_session(device_, session_filters());
  }
  state_ = State::closed;
  upstream_.clear();
  downstream_.clear();  // the host releases what the device never acknowledged
}

void Engine::send_will() {
  if (!connect_.will) return;
  Properties props;
  if (auto bag = telemetry_bag(connect_.will->topic, device_)) {
    std::string ignored;
    if (auto parsed = parse_bag(*bag, ignored)) props = std::move(*parsed);
  }
  props.application.emplace_back("iothub-mqtt-will", "true");
  props.application.emplace_back("iothub-mqtt-will-topic", connect_.will->topic);
  host_.send_upstream({connect_.will->payload, std::move(props)}, false);
  connect_.will.reset();
}

void Engine::refuse_connect(ConnectCode code, const std::string& why) {
  host_.log_warning("CONNECT refused (" + std::to_string(static_cast<int>(code)) + "): " + why);
  send(Connack{false, code});
  state_ = State::closed;
  host_.close(why);
}

void Engine::fail(const std::string& why) {
  if (state_ == State::closed) return;
  host_.log_warning(device_.empty() ? why : device_ + ": " + why);
  state_ = State::closed;
  host_.close(why);
}

void Engine::debug(const std::string& what) {
  host_.log_debug(device_.empty() ? what : device_ + ": " + what);
}

void Engine::send(const Packet& packet) {
  out_.clear();
  encode(packet, out_);
  host_.write(out_);
}

void Engine::arm_keep_alive() {
  if (state_ == State::connected && keep_alive_.count() > 0) {
    last_packet_ = host_.now();
    host_.set_timer(Timer::keep_alive, keep_alive_);
  }
}

}  // namespace iotgw::mqtt
