// `mqtt`: the MQTT 5 and 3.1.1 adapter with IoT Hub's conventions, so unmodified device SDKs work
// through iotgw. The protocol lives in Engine (sans-I/O); this file only connects it to the
// host: bytes, timers, authentication, messages, operations and the per-device session store.
#include <memory>

#include "engine.hpp"
#include "iotgw/config_map.hpp"
#include "iotgw/plugin.hpp"
#include "session_store.hpp"

namespace {

using iotgw::mqtt::Credentials;
using iotgw::mqtt::Engine;
using iotgw::mqtt::EngineOptions;
using iotgw::mqtt::Filters;
using iotgw::mqtt::MessageData;
using iotgw::mqtt::Sent;
using iotgw::mqtt::SessionStore;
using iotgw::mqtt::Timer;

class MqttConnection final : public iotgw::AdapterConnection, public iotgw::mqtt::EngineHost {
 public:
  MqttConnection(iotgw::Connection conn, std::shared_ptr<const EngineOptions> options,
                 SessionStore& sessions, const iotgw::Context& ctx)
      : AdapterConnection(conn),
        sessions_(sessions),
        ctx_(ctx),
        engine_(*this, std::move(options)) {}

  // AdapterConnection
  std::size_t on_bytes(std::span<const std::uint8_t> data) override {
    return engine_.on_bytes(data);
  }
  void on_timer(std::uint32_t id) override { engine_.on_timer(static_cast<Timer>(id)); }
  void on_auth_result(std::uint64_t token, iotgw_status status, const iotgw_identity* identity,
                      const char* reason) override {
    engine_.on_auth_result(
        token, status, identity != nullptr ? std::string(iotgw::to_view(identity->device_id)) : "",
        reason != nullptr ? reason : "");
  }
  void on_upstream_result(std::uint64_t token, iotgw_outcome outcome, const char* reason) override {
    engine_.on_upstream_result(token, outcome, reason != nullptr ? reason : "");
  }
  void on_downstream(const iotgw::Message& msg, std::uint64_t delivery) override {
    MessageData m{std::string(msg.body()), {}};
    msg.for_each(iotgw::Scope::system, [&](std::string_view k, std::string_view v) {
      m.props.system.emplace_back(k, v);
    });
    msg.for_each(iotgw::Scope::application, [&](std::string_view k, std::string_view v) {
      m.props.application.emplace_back(k, v);
    });
    if (auto topic = msg.get(iotgw::Scope::annotation, "mqtt-topic")) {
      m.annotations.emplace_back("mqtt-topic", *topic);
    }
    // The bridge's count, from whichever of IoT Hub's annotation and the AMQP header said it; a
    // host from before delivery-count (ABI 1.1 too) passes only IoT Hub's annotation.
    auto count = msg.get(iotgw::Scope::system, "delivery-count");
    if (!count) count = msg.get(iotgw::Scope::annotation, "iothub-deliverycount");
    m.redelivered = count && !count->empty() && *count != "0";
    engine_.on_downstream(std::move(m), delivery);
  }
  void on_operation_result(std::uint64_t token, const iotgw::OperationResult& result) override {
    engine_.on_operation_result(token, result);
  }
  void on_hub_request(const iotgw::HubRequest& request) override {
    engine_.on_hub_request(request);
  }
  void on_drain() override { engine_.on_drain(); }
  void on_closing(iotgw_close_cause cause, std::string_view reason) override {
    engine_.on_closing(cause == IOTGW_CLOSE_TAKEN_OVER, std::string(reason));
  }
  void on_closed() override { engine_.on_closed(); }

  // EngineHost
  void write(std::span<const std::uint8_t> bytes) override { connection().write(bytes); }
  void close(const std::string& reason) override { connection().close(reason); }
  void pause_reading(bool paused) override {
    if (paused) {
      connection().pause_reading();
    } else {
      connection().resume_reading();
    }
  }
  bool reading_held() override { return connection().reading_paused(); }
  void set_timer(Timer timer, std::chrono::milliseconds after) override {
    connection().set_timer(static_cast<std::uint32_t>(timer), after);
  }
  void cancel_timer(Timer timer) override {
    connection().cancel_timer(static_cast<std::uint32_t>(timer));
  }
  std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
  std::optional<std::uint64_t> authenticate(const Credentials& c) override {
    return connection().authenticate(c.client_id, c.username, c.password);
  }
  Sent send_upstream(MessageData message, bool at_least_once) override {
    auto msg = connection().new_message();
    msg.set_body(message.body);
    msg.set_all(iotgw::Scope::system, message.props.system);
    msg.set_all(iotgw::Scope::application, message.props.application);
    msg.set_all(iotgw::Scope::annotation, message.annotations);
    Sent sent;
    sent.status = connection().send_upstream(
        std::move(msg), at_least_once ? IOTGW_QOS_AT_LEAST_ONCE : IOTGW_QOS_AT_MOST_ONCE,
        sent.token);
    return sent;
  }
  void refuse_over_rate() override { connection().refuse_over_rate(true); }
  void set_downstream(bool enabled) override { connection().set_downstream(enabled); }
  void settle(std::uint64_t delivery, iotgw_outcome outcome, const std::string& reason) override {
    connection().settle(delivery, outcome, reason.empty() ? nullptr : reason.c_str());
  }
  bool resume_session(const std::string& device, bool clean, Filters& filters) override {
    return sessions_.resume(device, clean, filters, std::chrono::steady_clock::now());
  }
  void store_session(const std::string& device, const Filters& filters,
                     std::chrono::seconds expiry) override {
    sessions_.store(device, filters, expiry, std::chrono::steady_clock::now());
  }
  std::optional<std::uint64_t> request(iotgw_op_kind kind, std::string_view body) override {
    std::uint64_t token = 0;
    if (connection().request(kind, body, token) != IOTGW_OK) return std::nullopt;
    return token;
  }
  bool respond(std::uint64_t id, int status, std::string_view body) override {
    return connection().respond(id, status, body) == IOTGW_OK;
  }
  void log_warning(const std::string& message) override { ctx_.warn(message); }
  void log_debug(const std::string& message) override { ctx_.debug(message); }

 private:
  SessionStore& sessions_;
  const iotgw::Context& ctx_;
  Engine engine_;
};

class MqttAdapter final : public iotgw::AdapterBase {
 public:
  static constexpr const char* name = "mqtt";
  static constexpr const char* version = "0.1.0";
  static constexpr const char* description =
      "MQTT 5, 3.1.1 and 3.1 with IoT Hub's topics: telemetry, C2D, twin, direct methods, QoS 0 "
      "and 1";
  // Each key fills its EngineOptions member; the SDK holds it to its range or choices.
  static inline const iotgw::ConfigMap<EngineOptions> config_map{
      iotgw::size("max_packet", "257KB",
                  "largest packet accepted (IoT Hub's 256 KB plus headers); a larger one closes",
                  &EngineOptions::max_packet)
          .at_least(64),
      iotgw::integer("max_inflight", "16",
                     "unacknowledged QoS 1 publishes per connection: MQTT 3.1.1 reading pauses "
                     "there; MQTT 5 clients are told it as Receive Maximum",
                     &EngineOptions::max_inflight)
          .range(1, 65535),
      iotgw::integer("max_operations", "64",
                     "twin requests and subscriptions awaiting the hub per connection (more get "
                     "429), and method calls awaiting the device",
                     &EngineOptions::max_operations)
          .range(1, 65535),
      iotgw::duration("connect_timeout", "10s", "close a connection with no CONNECT by then",
                      &EngineOptions::connect_timeout)
          .at_least(std::chrono::milliseconds(1)),
      iotgw::duration("max_keep_alive", "20m",
                      "cap on 1.5 x the client's keep-alive; also used when the client asks for "
                      "none",
                      &EngineOptions::max_keep_alive)
          .at_least(std::chrono::seconds(1)),
      iotgw::string("hostname", "",
                    "the hub name user names must carry ({hub}/{device}/?api-version=...); "
                    "empty: any",
                    &EngineOptions::hostname),
      iotgw::choice("other_topics", "refuse",
                    "topics and filters outside IoT Hub's: refuse (close; SUBACK failure), or map "
                    "(a `map` stage must claim what is published there, and its c2d_topic feeds "
                    "such filters)",
                    &EngineOptions::map_other_topics, {{"refuse", false}, {"map", true}}),
      iotgw::integer("topic_alias_maximum", "10",
                     "MQTT 5: topic aliases a client may set on its connection (0: none)",
                     &EngineOptions::topic_alias_maximum),
      iotgw::duration("max_session_expiry", "24h",
                      "MQTT 5: the longest Session Expiry Interval granted (a longer one is cut, "
                      "and CONNACK says so)",
                      &EngineOptions::max_session_expiry)
          .at_least(std::chrono::milliseconds(0)),
      iotgw::string("server_reference", "",
                    "MQTT 5: where a draining gateway sends its clients (DISCONNECT 0x9C, Use "
                    "another server); empty: 0x8B, Server shutting down",
                    &EngineOptions::server_reference),
  };

  MqttAdapter(const iotgw::Context& ctx, const iotgw::Config& config)
      : AdapterBase(ctx),
        options_(std::make_shared<const EngineOptions>(config_map.read(config))) {}

  std::unique_ptr<iotgw::AdapterConnection> open(iotgw::Connection conn,
                                                 const iotgw_conn_info&) override {
    return std::make_unique<MqttConnection>(conn, options_, sessions_, context());
  }

 private:
  std::shared_ptr<const EngineOptions> options_;
  SessionStore sessions_;
};

}  // namespace

IOTGW_ADAPTER_PLUGIN(MqttAdapter)
