#include "engine.hpp"

#include <algorithm>

#include "iotgw/common/clock.hpp"
#include "message_properties.hpp"

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

std::uint8_t decode_reason(Decoded result) {
  switch (result) {
    case Decoded::protocol_error: return reason::protocol_error;
    case Decoded::too_large: return reason::packet_too_large;
    default: return reason::malformed_packet;
  }
}

constexpr std::uint32_t kSessionNeverExpires = 0xFFFFFFFF;

}  // namespace

Engine::Engine(EngineHost& host, std::shared_ptr<const EngineOptions> options)
    : host_(host), options_(std::move(options)) {
  decode_.max_packet = options_->max_packet;
  host_.set_timer(Timer::connect, options_->connect_timeout);
}

Engine::Engine(EngineHost& host, EngineOptions options)
    : Engine(host, std::make_shared<const EngineOptions>(std::move(options))) {}

std::size_t Engine::on_bytes(std::span<const std::uint8_t> data) {
  const TrimOnReturn trim_after{*this};
  std::size_t used = 0;
  bool any_packet = false;
  while (used < data.size() && state_ != State::closed && state_ != State::authenticating &&
         !paused_ && !host_.reading_held()) {
    Packet packet;
    std::size_t n = 0;
    std::string error;
    const auto result = decode(data.subspan(used), decode_, packet, n, error);
    if (result == Decoded::need_more) break;
    if (result != Decoded::packet) {
      fail("malformed packet: " + error, decode_reason(result));
      break;
    }
    used += n;
    if (state_ == State::awaiting_connect && !std::holds_alternative<Connect>(packet)) {
      fail("the first packet is not CONNECT", reason::protocol_error);
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
    fail("a second CONNECT", reason::protocol_error);
    return;
  }
  host_.cancel_timer(Timer::connect);
  const bool known = (c.protocol_name == "MQTT" && (c.level == 4 || c.level == 5)) ||
                     (c.protocol_name == "MQIsdp" && c.level == 3);
  if (!known) {
    refuse_connect(ConnectCode::unacceptable_protocol, reason::unsupported_protocol_version,
                   "protocol " + c.protocol_name + " level " + std::to_string(c.level) +
                       " is not served (MQTT 5, 3.1.1 and 3.1 are)");
    return;
  }
  level_ = static_cast<ProtocolLevel>(c.level);
  decode_.level = level_;
  if (c.client_id.empty()) {
    refuse_connect(ConnectCode::identifier_rejected, reason::client_id_not_valid,
                   "an empty client id (the device id)");
    return;
  }
  // An IoT Hub user name is checked here; any other user name (no '/') is for the auth stages
  // alone (auth-file maps user names to devices).
  if (c.username && c.username->find('/') != std::string::npos) {
    std::string_view host, device;
    if (!split_username(*c.username, host, device)) {
      refuse_connect(ConnectCode::bad_credentials, reason::bad_user_name_or_password,
                     "user name '" + *c.username + "' is not {hub}/{device}/?api-version=...");
      return;
    }
    if (!options_->hostname.empty() && host != options_->hostname) {
      refuse_connect(ConnectCode::bad_credentials, reason::bad_user_name_or_password,
                     "user name names hub '" + std::string(host) + "', not " + options_->hostname);
      return;
    }
    if (device != c.client_id) {
      refuse_connect(
          ConnectCode::not_authorized, reason::not_authorized,
          "user name names device '" + std::string(device) + "', client id '" + c.client_id + "'");
      return;
    }
  }
  if (v5() && !accept_v5_connect(c)) return;
  if (v5()) host_.refuse_over_rate();  // MQTT 5 can tell a device its quota is spent
  const auto cap = std::chrono::duration_cast<std::chrono::milliseconds>(options_->max_keep_alive);
  keep_alive_ =
      c.keep_alive == 0 ? cap : std::min(cap, std::chrono::milliseconds(c.keep_alive * 1500LL));
  clean_session_ = c.clean_session;
  connect_ = std::make_unique<Connect>(std::move(c));
  state_ = State::authenticating;
  auto token = host_.authenticate(
      {connect_->client_id, connect_->username.value_or(""), connect_->password.value_or("")});
  if (!token) {
    refuse_connect(ConnectCode::server_unavailable, reason::server_unavailable,
                   "authentication could not start");
    return;
  }
  auth_token_ = *token;
  // Packets sent right behind CONNECT wait in the host's buffer until CONNACK.
  host_.pause_reading(true);
}

bool Engine::accept_v5_connect(const Connect& c) {
  if (c.props.auth_method) {
    refuse_connect(ConnectCode::not_authorized, reason::bad_authentication_method,
                   "enhanced authentication ('" + *c.props.auth_method + "') is not offered");
    return false;
  }
  // IoT Hub cannot keep a retained message, and QoS 2 has no AMQP counterpart (CONNACK says so).
  if (c.will && c.will->qos > 1) {
    refuse_connect(ConnectCode::not_authorized, reason::qos_not_supported,
                   "a will at QoS 2: QoS 2 is not served");
    return false;
  }
  if (c.will && c.will->retain) {
    refuse_connect(ConnectCode::not_authorized, reason::retain_not_supported,
                   "a retained will: retained messages are not served");
    return false;
  }
  client_receive_max_ = c.props.receive_maximum.value_or(65535);
  client_alias_max_ = c.props.topic_alias_maximum.value_or(0);
  client_max_packet_ = c.props.maximum_packet_size.value_or(0);
  problem_info_ = c.props.request_problem_info.value_or(1) == 1;
  session_expiry_ = granted_session_expiry(c.props.session_expiry.value_or(0));
  return true;
}

Connack Engine::v5_connack(bool session_present) const {
  Connack ack{session_present, ConnectCode::accepted, reason::success, {}};
  auto& p = ack.props;
  p.receive_maximum =
      static_cast<std::uint16_t>(std::min<std::size_t>(options_->max_inflight, 65535));
  p.maximum_qos = 1;
  p.retain_available = 0;
  p.maximum_packet_size =
      static_cast<std::uint32_t>(std::min<std::size_t>(options_->max_packet, 0xFFFFFFFF));
  if (options_->topic_alias_maximum > 0) p.topic_alias_maximum = options_->topic_alias_maximum;
  p.wildcard_available = 1;
  p.subscription_ids_available = 0;
  p.shared_available = 0;
  if (connect_ && connect_->props.session_expiry.value_or(0) != session_expiry_) {
    p.session_expiry = session_expiry_;
  }
  // The keep-alive this server holds the client to, when it is not the client's own.
  const auto held = std::chrono::duration_cast<std::chrono::seconds>(keep_alive_ * 2 / 3);
  if (connect_ && (connect_->keep_alive == 0 || held.count() < connect_->keep_alive)) {
    p.server_keep_alive =
        static_cast<std::uint16_t>(std::clamp<std::int64_t>(held.count(), 1, 65535));
  }
  return ack;
}

void Engine::on_auth_result(std::uint64_t token, iotgw_status status, const std::string& device_id,
                            const std::string& reason) {
  if (state_ != State::authenticating || token != auth_token_) return;
  if (status != IOTGW_OK) {
    const auto code = status == IOTGW_ERR_REFUSED       ? ConnectCode::bad_credentials
                      : status == IOTGW_ERR_UNAVAILABLE ? ConnectCode::server_unavailable
                                                        : ConnectCode::not_authorized;
    const auto code5 = status == IOTGW_ERR_REFUSED       ? reason::bad_user_name_or_password
                       : status == IOTGW_ERR_UNAVAILABLE ? reason::server_unavailable
                       : status == IOTGW_ERR_LIMIT       ? reason::quota_exceeded
                                                         : reason::not_authorized;
    refuse_connect(code, code5, "authentication refused: " + reason);
    return;
  }
  device_ = device_id;
  state_ = State::connected;
  Filters stored;
  const bool present = host_.resume_session(device_, clean_session_, stored);
  if (v5()) {
    send(v5_connack(present));
  } else {
    send(Connack{present, ConnectCode::accepted});
  }
  // Only the will is needed from here on; an idle device should not carry its token.
  if (connect_->will) will_ = std::make_unique<Will>(std::move(*connect_->will));
  connect_.reset();
  restore_session(stored);
  if (!filters_.empty()) host_.set_downstream(true);
  arm_keep_alive();
  host_.pause_reading(false);
}

void Engine::handle(const Bare& b) {
  if (b.type == PacketType::pingreq) {
    send(Bare{PacketType::pingresp});
  } else {
    fail("a client may not send that packet", reason::protocol_error);
  }
}

void Engine::handle(const Disconnect& d) {
  if (v5() && d.props.session_expiry) {
    if (session_expiry_ == 0 && *d.props.session_expiry != 0) {
      fail("DISCONNECT sets a session expiry after CONNECT set none", reason::protocol_error);
      return;
    }
    session_expiry_ = granted_session_expiry(*d.props.session_expiry);
  }
  // MQTT 5 may ask for the will even so (0x04); otherwise a DISCONNECT discards it.
  disconnected_ = !(v5() && d.reason == reason::disconnect_with_will);
  state_ = State::closed;
  host_.close("the client disconnected");
}

void Engine::on_timer(Timer timer) {
  if (timer == Timer::connect && state_ == State::awaiting_connect) {
    state_ = State::closed;
    host_.close("no CONNECT within " + std::to_string(options_->connect_timeout.count()) + " ms");
  } else if (timer == Timer::keep_alive && state_ == State::connected) {
    // The timer runs once per period, not re-armed per packet (that was a cancelled wait for
    // every message): if a packet came meanwhile, it waits out the rest from that packet.
    const auto quiet =
        std::chrono::duration_cast<std::chrono::milliseconds>(host_.now() - last_packet_);
    if (quiet < keep_alive_) {
      host_.set_timer(Timer::keep_alive, keep_alive_ - quiet);
      return;
    }
    fail("keep-alive expired: nothing received for " + std::to_string(keep_alive_.count()) + " ms",
         reason::keep_alive_timeout);
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
  if (draining_ && state_ != State::closed && traffic_seen().upstream.empty() &&
      traffic_seen().operations.empty()) {
    if (v5() && state_ == State::connected) {
      Disconnect d{options_->server_reference.empty() ? reason::server_shutting_down
                                                      : reason::use_another_server,
                   {}};
      if (!options_->server_reference.empty())
        d.props.server_reference = options_->server_reference;
      d.props.reason_string = "the gateway is draining";
      send(d);
    }
    state_ = State::closed;
    host_.close("the gateway is draining");
  }
}

void Engine::on_closing(bool taken_over, const std::string& why) {
  if (!v5() || state_ != State::connected) return;
  Disconnect d{taken_over ? reason::session_taken_over : reason::not_authorized, {}};
  d.props.reason_string = why;
  send(d);
}

std::uint32_t Engine::granted_session_expiry(std::uint32_t asked) const {
  return std::min<std::uint32_t>(
      asked, static_cast<std::uint32_t>(std::min<std::int64_t>(options_->max_session_expiry.count(),
                                                               kSessionNeverExpires)));
}

std::chrono::seconds Engine::session_expiry() const {
  if (!v5()) return std::chrono::seconds::max();  // 3.1.1 keeps it until a clean session
  if (session_expiry_ == kSessionNeverExpires) return options_->max_session_expiry;
  return std::chrono::seconds(session_expiry_);
}

void Engine::on_closed() {
  if (state_ == State::connected || (state_ == State::closed && !device_.empty())) {
    if (!disconnected_) send_will();
    // MQTT 5 ties the session's life to its expiry interval, not to clean start.
    const bool keep = v5() ? session_expiry_ > 0 : !clean_session_;
    if (keep) host_.store_session(device_, session_filters(), session_expiry());
  }
  state_ = State::closed;
  if (!traffic_) return;
  traffic_->upstream.clear();
  traffic_->downstream.clear();  // the host releases what the device never acknowledged
  for (const auto& [message, delivery] : traffic_->waiting_downstream) {
    host_.settle(delivery, IOTGW_RELEASED);
  }
  traffic_->waiting_downstream.clear();
  trim();
}

bool Engine::Traffic::empty() const {
  return upstream.empty() && downstream.empty() && operations.empty() && method_calls.empty() &&
         acks.empty() && aliases_in.empty() && aliases_out.empty() && waiting_downstream.empty();
}

Engine::Traffic& Engine::traffic() {
  if (!traffic_) traffic_ = std::make_unique<Traffic>();
  return *traffic_;
}

const Engine::Traffic& Engine::traffic_seen() const {
  static const Traffic none;
  return traffic_ ? *traffic_ : none;
}

void Engine::trim() {
  if (traffic_ && traffic_->empty()) traffic_.reset();
}

void Engine::send_will() {
  if (!will_) return;
  Properties props;
  if (auto bag = telemetry_bag(will_->topic, device_)) {
    std::string ignored;
    if (auto parsed = parse_bag(*bag, ignored)) props = std::move(*parsed);
  }
  if (v5()) add_message_properties(will_->props, unix_millis(), props);
  props.application.emplace_back("iothub-mqtt-will", "true");
  props.application.emplace_back("iothub-mqtt-will-topic", will_->topic);
  host_.send_upstream({will_->payload, std::move(props)}, false);
  will_.reset();
}

void Engine::refuse_connect(ConnectCode code, std::uint8_t v5_code, const std::string& why) {
  host_.log_warning("CONNECT refused (" + std::to_string(v5() ? v5_code : static_cast<int>(code)) +
                    "): " + why);
  Connack ack{false, code, v5_code, {}};
  ack.props.reason_string = why;
  send(ack);
  state_ = State::closed;
  host_.close(why);
}

void Engine::fail(const std::string& why, std::uint8_t code) {
  if (state_ == State::closed) return;
  host_.log_warning(device_.empty() ? why : device_ + ": " + why);
  if (v5() && state_ == State::connected) {
    Disconnect d{code, {}};
    d.props.reason_string = why;
    send(d);
  }
  state_ = State::closed;
  host_.close(why);
}

void Engine::debug(const std::string& what) {
  host_.log_debug(device_.empty() ? what : device_ + ": " + what);
}

// MQTT 5 limits what the server may add to a packet: no reason strings or user properties where
// the client asked for no problem information, nor any that would take it past its Maximum
// Packet Size (both 3.1.1-free: the encoder writes no properties there).
void Engine::send(const Packet& packet) {
  out_.clear();
  encode(packet, out_, level_);
  if (v5() && !std::holds_alternative<Publish>(packet)) {
    const bool always =
        std::holds_alternative<Connack>(packet) || std::holds_alternative<Disconnect>(packet);
    const bool too_large = client_max_packet_ != 0 && out_.size() > client_max_packet_;
    if ((!problem_info_ && !always) || too_large) {
      Packet bare = packet;
      std::visit(
          [](auto& p) {
            if constexpr (requires { p.props; }) {
              p.props.reason_string.reset();
              p.props.user.clear();
            }
          },
          bare);
      out_.clear();
      encode(bare, out_, level_);
    }
  }
  if (v5() && client_max_packet_ != 0 && out_.size() > client_max_packet_) {
    // MQTT 5 forbids sending it (a twin document, a method call bigger than the device takes):
    // dropped as if sent, which is what the spec asks of a server.
    host_.log_warning(device_ + ": a packet of " + std::to_string(out_.size()) +
                      " bytes is over the device's Maximum Packet Size of " +
                      std::to_string(client_max_packet_) + ": not sent");
    return;
  }
  host_.write(out_);
}

void Engine::arm_keep_alive() {
  if (state_ == State::connected && keep_alive_.count() > 0) {
    last_packet_ = host_.now();
    host_.set_timer(Timer::keep_alive, keep_alive_);
  }
}

}  // namespace iotgw::mqtt
