// One device's MQTT session (3.1, 3.1.1 or 5), sans-I/O: bytes and host answers in, packets and
// host requests out, through EngineHost. The adapter plugin connects it to the iotgw host; tests
// drive it with no socket at all. IoT Hub's conventions: the client id is the device id, telemetry
// goes to the device's events topic, C2D comes from its devicebound filter, and twin and
// direct-method topics are operations with the hub (engine_operations.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codec/codec.hpp"
#include "codec/reason_codes.hpp"
#include "iotgw/abi.h"
#include "iotgw/plugin.hpp"
#include "iothub_operations.hpp"
#include "iothub_topics.hpp"

namespace iotgw::mqtt {

struct EngineOptions {
  std::size_t max_packet = 256 * 1024 + 1024;  // MQTT 5: advertised as Maximum Packet Size
  // Unacknowledged QoS 1 publishes: MQTT 3.1.1 reading pauses there; MQTT 5 clients are told it
  // as Receive Maximum, and one that sends more is disconnected (0x93).
  std::size_t max_inflight = 16;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::seconds max_keep_alive{1'200};  // also used when the client asks for none
  std::string hostname;                        // when set, the user name's host must be this
  // Topics outside IoT Hub's go up marked unmapped, for a mapping stage to claim (the host
  // refuses what none claims); otherwise they close the connection. Filters outside IoT Hub's
  // are granted too, for C2D messages a mapping stage gives such a topic.
  bool map_other_topics = false;
  // Operations awaiting the hub (twin requests, twin and method subscriptions; more get 429 or
  // SUBACK 0x80), and method calls awaiting the device (more forget the oldest).
  std::size_t max_operations = 64;
  // MQTT 5: topic aliases a client may set (0: none), the longest session kept after a
  // connection ends, and where a draining gateway sends its clients (DISCONNECT 0x9C).
  std::uint16_t topic_alias_maximum = 10;
  std::chrono::seconds max_session_expiry{86'400};
  std::string server_reference;
};

enum class Timer : std::uint32_t { connect = 1, keep_alive = 2 };

struct Credentials {
  std::string client_id, username, password;
};

// A session's granted topic filters and the QoS granted to each: the devicebound filter, mapped
// ones, and (in a stored session) IoT Hub's twin and method filters.
using Filters = std::map<std::string, std::uint8_t>;

struct MessageData {
  std::string body;
  Properties props;
  // Upstream, "mqtt-topic" for a topic a mapping stage is to claim; downstream, the topic a
  // mapping stage chose instead of the devicebound one.
  std::vector<Property> annotations = {};
  bool redelivered = false;  // C2D: the hub delivered it before (sent with DUP)
};

// What the host made of a message handed upstream.
struct Sent {
  iotgw_status status = IOTGW_OK;  // IOTGW_ERR_LIMIT: the device is over its rate (MQTT 5)
  std::uint64_t token = 0;         // QoS 1: what on_upstream_result will carry
};

// What the engine asks of its host. All calls happen on the connection's loop.
class EngineHost {
 public:
  virtual ~EngineHost() = default;
  virtual void write(std::span<const std::uint8_t> bytes) = 0;
  virtual void close(const std::string& reason) = 0;
  virtual void pause_reading(bool paused) = 0;
  // True while the host holds reading (the bridge cannot take more): stop consuming input.
  virtual bool reading_held() = 0;
  virtual void set_timer(Timer timer, std::chrono::milliseconds after) = 0;
  virtual void cancel_timer(Timer timer) = 0;
  virtual std::chrono::steady_clock::time_point now() = 0;
  // Returns the token on_auth_result will carry, or nullopt when the host refuses to start.
  virtual std::optional<std::uint64_t> authenticate(const Credentials& credentials) = 0;
  virtual Sent send_upstream(MessageData message, bool at_least_once) = 0;
  // An MQTT 5 device over the listener's per-device rate is refused what it sends (Quota
  // exceeded) instead of being slowed.
  virtual void refuse_over_rate() = 0;
  virtual void set_downstream(bool enabled) = 0;
  virtual void settle(std::uint64_t delivery, iotgw_outcome outcome,
                      const std::string& reason = {}) = 0;
  // clean_session=1 forgets the device's stored session; 0 returns whether one was stored
  // (session present) and fills the filters it had granted.
  virtual bool resume_session(const std::string& device, bool clean, Filters& filters) = 0;
  // At the end of a connection whose session outlives it (MQTT 3.1.1 clean_session=0, MQTT 5
  // Session Expiry Interval > 0): what the next one restores within `expiry`.
  virtual void store_session(const std::string& device, const Filters& filters,
                             std::chrono::seconds expiry) = 0;
  // An operation with the hub: the token on_operation_result will carry, or nullopt when the
  // host has none to offer (a host from before ABI 1.2).
  virtual std::optional<std::uint64_t> request(iotgw_op_kind kind, std::string_view body) = 0;
  // The device's answer to a method call; false when the hub no longer waits for it.
  virtual bool respond(std::uint64_t id, int status, std::string_view body) = 0;
  virtual void log_warning(const std::string& message) = 0;
  virtual void log_debug(const std::string& message) = 0;
};

class Engine {
 public:
  // Every connection of a listener shares its options: an idle device should not carry a copy.
  Engine(EngineHost& host, std::shared_ptr<const EngineOptions> options);
  Engine(EngineHost& host, EngineOptions options);

  // Returns how many bytes were used; the host hands the rest again later.
  std::size_t on_bytes(std::span<const std::uint8_t> data);
  void on_timer(Timer timer);
  void on_auth_result(std::uint64_t token, iotgw_status status, const std::string& device_id,
                      const std::string& reason);
  void on_upstream_result(std::uint64_t token, iotgw_outcome outcome, const std::string& reason);
  void on_downstream(MessageData message, std::uint64_t delivery);
  void on_operation_result(std::uint64_t token, const OperationResult& result);
  void on_hub_request(const HubRequest& request);
  // The gateway stops: read nothing more, close once every PUBLISH in flight is answered.
  void on_drain();
  // The host closes the connection right after this: a newer connection for the device took
  // over, or the hub dropped it. An MQTT 5 client hears why.
  void on_closing(bool taken_over, const std::string& reason);
  // The connection is gone without DISCONNECT: the will goes upstream (QoS 0). Nothing else.
  void on_closed();

  bool connected() const { return state_ == State::connected; }
  const std::string& device_id() const { return device_; }
  bool v5() const { return level_ == ProtocolLevel::v5; }

 private:
  enum class State { awaiting_connect, authenticating, connected, closed };

  // What the hub keeps for the device while subscribed (desired patches, method calls): asked by
  // SUBSCRIBE, granted by the operation's answer, dropped by UNSUBSCRIBE. The hub's side ends
  // with the connection; a stored session (clean_session=0) keeps the filter, and the next
  // connection asks the hub again itself (restore_session).
  struct HubSubscription {
    iotgw_op_kind start, stop;
    enum class State { off, pending, on } state = State::off;
    std::uint32_t generation = 0;  // one per UNSUBSCRIBE: answers asked before it are stale
  };
  // An operation awaiting the host's answer, and what that answer completes.
  struct Operation {
    iotgw_op_kind kind{};
    std::string rid;                     // a twin request's, echoed on the response topic
    HubFilter filter = HubFilter::none;  // a subscription's
    std::uint32_t generation = 0;        //   as it was when asked
    std::uint64_t ack = 0;               //   the queued SUBACK
    std::size_t slot = 0;                //   and its code for this filter
    std::uint8_t qos = 0;                //   granted when the hub agrees
    bool restored = false;               //   asked for a stored session: no SUBACK waits
  };
  // SUBACKs and UNSUBACKs go out in the order their packets came, each once no code in it
  // awaits the hub.
  struct QueuedAck {
    Packet packet;
    std::size_t waiting = 0;
  };

  // What a device has in flight, held apart: an idle device would otherwise carry eight empty
  // containers (some 400 bytes). Made on first use, dropped when empty again (trim).
  struct Traffic {
    std::map<std::uint64_t, std::uint16_t> upstream;    // host token -> PUBLISH packet id
    std::map<std::uint16_t, std::uint64_t> downstream;  // our packet id -> host delivery
    std::map<std::uint64_t, Operation> operations;      // host token -> what its answer completes
    std::set<std::uint64_t> method_calls;               // hub request ids the device has to answer
    std::map<std::uint64_t, QueuedAck> acks;            // in arrival order
    // MQTT 5: the topic aliases both ways, for the connection's life.
    std::vector<std::string> aliases_in;  // by alias - 1
    std::map<std::string, std::uint16_t> aliases_out;
    // C2D messages beyond the client's Receive Maximum, sent as it acknowledges.
    std::vector<std::pair<MessageData, std::uint64_t>> waiting_downstream;

    bool empty() const;
  };
  Traffic& traffic();
  // Read-only, without making one: an empty Traffic while there is none.
  const Traffic& traffic_seen() const;
  // Drops the Traffic once nothing is in it. Only where no caller holds a reference into it: at
  // the end of the calls the host makes (the host answers on a later turn, never re-entrantly).
  void trim();
  struct TrimOnReturn {
    Engine& engine;
    ~TrimOnReturn() { engine.trim(); }
  };

  void handle(Connect& c);
  void handle(Publish& p);
  void handle(const Ack& a);
  void handle(const Subscribe& s);
  void handle(const Unsubscribe& u);
  void handle(const Bare& b);
  void handle(const Disconnect& d);
  template <typename Other>
  void handle(const Other&) {
    fail("a client may not send that packet", reason::protocol_error);
  }
  // Reads what MQTT 5's CONNECT asks (flow control, aliases, session expiry); false when it
  // was refused.
  bool accept_v5_connect(const Connect& c);
  Connack v5_connack(bool session_present) const;
  void refuse_connect(ConnectCode code, std::uint8_t v5_code, const std::string& why);
  // Protocol violation, or the server's reason to end it: MQTT 5 clients get a DISCONNECT with
  // the code (after CONNACK), then the will goes and the connection closes.
  void fail(const std::string& why, std::uint8_t code);
  // A QoS 1 PUBLISH refused: MQTT 5 answers with a PUBACK carrying the code; QoS 0 and MQTT
  // 3.1.1, which cannot be told, are closed.
  void refuse_publish(const Publish& p, std::uint8_t code, const std::string& why);
  // The topic an MQTT 5 PUBLISH stands for through its alias; false when it was refused.
  bool resolve_alias(Publish& p);
  void send_downstream(MessageData message, std::uint64_t delivery);
  void send_waiting_downstream();
  // A C2D topic as an MQTT 5 alias when the client allows them and it pays.
  void alias_outbound(Publish& p);
  void send(const Packet& packet);
  void arm_keep_alive();
  void send_will();
  void subscribe_changed(bool was_subscribed);
  // A stored session's filters back: C2D ones as they are, twin and method ones asked again.
  void restore_session(const Filters& stored);
  // What a clean_session=0 connection leaves for the next one.
  Filters session_filters() const;
  void flush_acks();
  // Once draining, the connection closes when nothing awaits the hub.
  void close_if_drained();
  // The session expiry MQTT 5 grants for what the client asked (CONNECT, DISCONNECT), and how
  // long the session is stored for.
  std::uint32_t granted_session_expiry(std::uint32_t asked) const;
  std::chrono::seconds session_expiry() const;
  void debug(const std::string& what);

  // Twin and direct methods (engine_operations.cpp).
  void handle_request(const DeviceRequest& request, const Publish& p);
  void ask_twin(iotgw_op_kind kind, const std::string& rid, std::string_view body);
  // An error status goes with a body that says so (error_body); `reason` is the gateway's own.
  void answer_twin(int status, std::string_view rid, std::int64_t version, std::string body,
                   std::string_view reason = {});
  void answer_method(const DeviceRequest& request, std::string_view body);
  void publish_at_most_once(std::string topic, std::string body);
  HubSubscription* hub_subscription(HubFilter filter);
  // False when the hub cannot be asked now (the code is then a failure).
  bool subscribe_to_hub(HubFilter filter, std::uint8_t qos, std::uint64_t ack, std::size_t slot);
  void unsubscribe_from_hub(HubFilter filter);
  void subscribed_by_hub(const Operation& op, const OperationResult& result);
  void call_method(const HubRequest& request);
  // The topic a C2D message goes out on, or nullopt with `why` when the device did not ask for it.
  // `qos` is the one the device was granted for it.
  std::optional<std::string> downstream_topic(const MessageData& message, std::uint8_t& qos,
                                              std::string& why) const;

  EngineHost& host_;
  std::shared_ptr<const EngineOptions> options_;
  DecodeOptions decode_;
  State state_ = State::awaiting_connect;
  ProtocolLevel level_ = ProtocolLevel::v311;
  std::uint64_t auth_token_ = 0;
  // Held apart from the engine's own size, which every idle device pays: the CONNECT until the
  // login is answered, the will until the end.
  std::unique_ptr<Connect> connect_;
  std::unique_ptr<Will> will_;
  std::string device_;
  bool clean_session_ = true;  // MQTT 5: clean start
  std::chrono::milliseconds keep_alive_{0};
  std::chrono::steady_clock::time_point last_packet_{};
  Filters filters_;
  std::uint16_t next_packet_id_ = 1;
  bool twin_responses_ = false;  // $iothub/twin/res/# granted
  HubSubscription desired_{IOTGW_OP_TWIN_WATCH_DESIRED, IOTGW_OP_TWIN_UNWATCH_DESIRED};
  HubSubscription methods_{IOTGW_OP_METHODS_ENABLE, IOTGW_OP_METHODS_DISABLE};
  std::uint64_t next_ack_ = 0;
  bool paused_ = false;
  bool disconnected_ = false;  // DISCONNECT received: the will is discarded
  bool draining_ = false;
  std::vector<std::uint8_t> out_;

  // MQTT 5: what the client said it takes.
  std::uint32_t session_expiry_ = 0;  // seconds, as granted
  std::uint16_t client_receive_max_ = 65535;
  std::uint16_t client_alias_max_ = 0;
  std::uint32_t client_max_packet_ = 0;  // 0: no limit
  bool problem_info_ = true;             // reason strings allowed on every packet
  std::unique_ptr<Traffic> traffic_;     // while anything is in flight (or aliases are known)
};

}  // namespace iotgw::mqtt
