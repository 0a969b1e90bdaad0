// iotgw plugin SDK, C++ layer: makes a plugin a class and one line, without putting C++ in the ABI.
// A whole stage (tests/integration/sdk_example_test.cpp builds this text and runs it):
//
//   #include <iotgw/plugin.hpp>
//
//   #include <cctype>
//   #include <string>
//
//   class Upper final : public iotgw::StageBase {
//    public:
//     static constexpr const char* name = "upper";
//     static constexpr const char* version = "1.0.0";
//     static constexpr const char* description = "upper-cases payloads";
//     Upper(const iotgw::Context& ctx, const iotgw::Config& /*config*/) : StageBase(ctx) {}
//     iotgw::Verdict upstream(iotgw::Message& msg, std::string& /*reason*/) override {
//       std::string body(msg.body());
//       for (auto& c : body) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
//       msg.set_body(body);
//       return iotgw::Verdict::proceed;
//     }
//   };
//   IOTGW_STAGE_PLUGIN(Upper)
//
// Everything here is header-only and inline; the library it builds exports only the entry point
// declared in abi.h. Exceptions thrown by plugin code are caught at the boundary: from create they
// become the refusal text, from a connection callback they close that connection.
#ifndef IOTGW_PLUGIN_HPP
#define IOTGW_PLUGIN_HPP

#include <iotgw/abi.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace iotgw {

// Thrown by plugin code to refuse a configuration or a protocol input; the text reaches the log.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline iotgw_str to_c(std::string_view s) {
  return iotgw_str{s.data(), s.size()};
}
inline std::string_view to_view(iotgw_str s) {
  return {s.data, s.size};
}
inline iotgw_bytes to_c(std::span<const std::uint8_t> b) {
  return iotgw_bytes{b.data(), b.size()};
}

// The values the host validated against the plugin's declared keys.
class Config {
 public:
  explicit Config(const iotgw_config* config) : config_(config) {}

  std::string_view instance_name() const { return config_->instance_name; }

  const iotgw_config_value& value(std::string_view key) const {
    for (std::size_t i = 0; i < config_->count; ++i) {
      const iotgw_config_value* v = iotgw_config_value_at(config_, i);
      if (key == v->key) return *v;
    }
    throw Error("config key '" + std::string(key) + "' was not declared");
  }
  std::string string(std::string_view key) const { return value(key).text; }
  std::int64_t integer(std::string_view key) const { return value(key).integer; }
  // An integer that must lie in [min, max]; otherwise Error("KEY must be from MIN to MAX").
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max) const {
    const auto v = integer(key);
    if (v < min || v > max) {
      throw Error(std::string(key) + " must be from " + std::to_string(min) + " to " +
                  std::to_string(max));
    }
    return v;
  }
  bool boolean(std::string_view key) const { return value(key).integer != 0; }
  double number(std::string_view key) const { return value(key).number; }
  std::chrono::milliseconds duration(std::string_view key) const {
    return std::chrono::milliseconds(value(key).integer);
  }
  std::uint64_t size(std::string_view key) const {
    return static_cast<std::uint64_t>(value(key).integer);
  }
  std::vector<std::string> list(std::string_view key) const {
    const auto& v = value(key);
    return {v.items, v.items + v.item_count};
  }

 private:
  const iotgw_config* config_;
};

// What a plugin instance gets from the host: the function table and its logging context.
class Context {
 public:
  Context(const iotgw_host_api* api, const iotgw_plugin_ctx* ctx) : api_(api), ctx_(ctx) {}
  const iotgw_host_api* api() const { return api_; }
  void log(iotgw_log_level level, const std::string& message) const {
    api_->log(ctx_, level, message.c_str());
  }
  void debug(const std::string& m) const { log(IOTGW_LOG_DEBUG, m); }
  void info(const std::string& m) const { log(IOTGW_LOG_INFO, m); }
  void warn(const std::string& m) const { log(IOTGW_LOG_WARN, m); }
  void error(const std::string& m) const { log(IOTGW_LOG_ERROR, m); }

 private:
  const iotgw_host_api* api_;
  const iotgw_plugin_ctx* ctx_;
};

enum class Scope {
  system = IOTGW_PROP_SYSTEM,
  application = IOTGW_PROP_APPLICATION,
  annotation = IOTGW_PROP_ANNOTATION
};

// A view of a host-owned message; valid while the host lends it (a callback) or while an
// OwnedMessage holds it.
class Message {
 public:
  Message(const iotgw_host_api* api, iotgw_msg* msg) : api_(api), msg_(msg) {}

  std::string_view body() const {
    auto b = api_->msg_body(msg_);
    return {reinterpret_cast<const char*>(b.data), b.size};
  }
  void set_body(std::string_view body) {
    api_->msg_set_body(
        msg_, iotgw_bytes{reinterpret_cast<const std::uint8_t*>(body.data()), body.size()});
  }
  // Write a body in place: reserve, fill, commit (no copy through a temporary).
  std::span<std::uint8_t> reserve_body(std::size_t capacity) {
    return {api_->msg_reserve_body(msg_, capacity), capacity};
  }
  void commit_body(std::size_t size) { api_->msg_commit_body(msg_, size); }

  std::optional<std::string_view> get(Scope scope, std::string_view key) const {
    iotgw_str out{};
    if (api_->msg_get(msg_, static_cast<iotgw_prop_scope>(scope), to_c(key), &out) == 0) {
      return std::nullopt;
    }
    return to_view(out);
  }
  void set(Scope scope, std::string_view key, std::string_view value) {
    api_->msg_set(msg_, static_cast<iotgw_prop_scope>(scope), to_c(key), to_c(value));
  }
  // Sets each {key, value} of `pairs` in `scope`, in order (a repeated key keeps its last value).
  template <class Pairs>
  void set_all(Scope scope, const Pairs& pairs) {
    for (const auto& [k, v] : pairs) set(scope, k, v);
  }
  bool remove(Scope scope, std::string_view key) {
    return api_->msg_remove(msg_, static_cast<iotgw_prop_scope>(scope), to_c(key)) != 0;
  }
  // Calls f(key, value) for each property of a scope, in insertion order.
  template <class F>
  void for_each(Scope scope, F&& f) const {
    iotgw_str k{}, v{};
    for (std::size_t i = 0;
         api_->msg_at(msg_, static_cast<iotgw_prop_scope>(scope), i, &k, &v) != 0; ++i) {
      f(to_view(k), to_view(v));
    }
  }
  std::string_view device_id() const { return to_view(api_->msg_device_id(msg_)); }

  iotgw_msg* handle() const { return msg_; }

 private:
  const iotgw_host_api* api_;
  iotgw_msg* msg_;
};

// A message the plugin made and has not yet handed to the host.
class OwnedMessage : public Message {
 public:
  OwnedMessage(const iotgw_host_api* api, iotgw_msg* msg) : Message(api, msg), api_(api) {}
  OwnedMessage(OwnedMessage&& o) noexcept : Message(o), api_(o.api_), owned_(o.owned_) {
    o.owned_ = false;
  }
  OwnedMessage(const OwnedMessage&) = delete;
  OwnedMessage& operator=(const OwnedMessage&) = delete;
  OwnedMessage& operator=(OwnedMessage&&) = delete;
  ~OwnedMessage() {
    if (owned_) api_->msg_destroy(handle());
  }
  iotgw_msg* release() {
    owned_ = false;
    return handle();
  }

 private:
  const iotgw_host_api* api_;
  bool owned_ = true;
};

// The HTTP request a ws or wss connection was upgraded with (ABI 1.3), as the host accepted it.
// A view: valid while the credentials or connection info it came from are lent.
class UpgradeRequest {
 public:
  explicit UpgradeRequest(const iotgw_http_upgrade& u) : u_(&u) {}
  // The request target with its query ("/$iothub/websocket?iothub-no-client-cert=true").
  std::string_view path() const { return to_view(u_->path); }
  // The WebSocket subprotocol the host chose from the client's offer ("mqtt").
  std::string_view subprotocol() const { return to_view(u_->subprotocol); }
  std::size_t header_count() const { return u_->header_count; }
  // The index-th header as sent: {name, value}.
  std::pair<std::string_view, std::string_view> header(std::size_t index) const {
    return {to_view(u_->headers[2 * index]), to_view(u_->headers[2 * index + 1])};
  }
  // The first header of that name (HTTP names ignore case), if the request had one.
  std::optional<std::string_view> header(std::string_view name) const {
    for (std::size_t i = 0; i < header_count(); ++i) {
      const auto [n, v] = header(i);
      if (n.size() == name.size() && equal_ignoring_case(n, name)) return v;
    }
    return std::nullopt;
  }

 private:
  static bool equal_ignoring_case(std::string_view a, std::string_view b) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
      if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
  }
  const iotgw_http_upgrade* u_;
};

namespace detail {
// Whether a host-filled struct reaches `field` (a host older than the plugin has it short).
template <class T>
bool reaches(const T& s, std::size_t offset, std::size_t size) {
  return s.struct_size >= offset + size;
}
}  // namespace detail

// The upgrade request of a ws or wss connection (ABI 1.3): what an authenticator checks a path,
// a query or a header against. nullopt on tcp and tls, and from a host older than 1.3.
inline std::optional<UpgradeRequest> upgrade_of(const iotgw_credentials& c) {
  if (!detail::reaches(c, offsetof(iotgw_credentials, upgrade), sizeof(void*)) ||
      c.upgrade == nullptr) {
    return std::nullopt;
  }
  return UpgradeRequest(*c.upgrade);
}
inline std::optional<UpgradeRequest> upgrade_of(const iotgw_conn_info& info) {
  if (!detail::reaches(info, offsetof(iotgw_conn_info, upgrade), sizeof(void*)) ||
      info.upgrade == nullptr) {
    return std::nullopt;
  }
  return UpgradeRequest(*info.upgrade);
}
// The transport the device came over (ABI 1.3): "tcp", "tls", "ws" or "wss"; empty from an
// older host.
inline std::string_view transport_of(const iotgw_credentials& c) {
  return detail::reaches(c, offsetof(iotgw_credentials, transport), sizeof c.transport)
             ? to_view(c.transport)
             : std::string_view();
}
inline std::string_view transport_of(const iotgw_conn_info& info) {
  return detail::reaches(info, offsetof(iotgw_conn_info, transport), sizeof info.transport)
             ? to_view(info.transport)
             : std::string_view();
}

// The PSK identity a DTLS handshake proved (ABI 1.4); empty on other transports and from an
// older host.
inline std::string_view psk_identity_of(const iotgw_credentials& c) {
  return detail::reaches(c, offsetof(iotgw_credentials, psk_identity), sizeof c.psk_identity)
             ? to_view(c.psk_identity)
             : std::string_view();
}
inline std::string_view psk_identity_of(const iotgw_conn_info& info) {
  return detail::reaches(info, offsetof(iotgw_conn_info, psk_identity), sizeof info.psk_identity)
             ? to_view(info.psk_identity)
             : std::string_view();
}

// The answer to an operation (ABI 1.2), borrowed for the callback.
struct OperationResult {
  int status = 0;
  std::int64_t version = -1;  // -1: the hub gave none
  std::string_view body;
  std::string_view reason;  // set when the host, not the hub, chose the status
};

// What the hub tells or asks the device (ABI 1.2), borrowed for the callback.
struct HubRequest {
  iotgw_hub_request_kind kind{};
  std::uint64_t id = 0;  // answer a method call with Connection::respond(id, ...)
  std::string_view name;
  std::string_view body;
  std::int64_t version = -1;
};

// The device-side connection an adapter serves: the host does the I/O.
class Connection {
 public:
  Connection(const iotgw_host_api* api, iotgw_conn* conn) : api_(api), conn_(conn) {}

  void write(std::string_view bytes) {
    api_->write(conn_,
                iotgw_bytes{reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  }
  void write(std::span<const std::uint8_t> bytes) { api_->write(conn_, to_c(bytes)); }
  std::size_t write_queue_size() const { return api_->write_queue_size(conn_); }
  void close(const std::string& reason) { api_->close(conn_, reason.c_str()); }
  void pause_reading() { api_->pause_reading(conn_); }
  void resume_reading() { api_->resume_reading(conn_); }
  // True while the adapter or the upstream holds reading: stop consuming input (ABI 1.1).
  bool reading_paused() const {
    return api_->reading_paused != nullptr && api_->reading_paused(conn_) != 0;
  }
  // Over the listener's per-device rate, send_upstream refuses with IOTGW_ERR_LIMIT instead of
  // the host slowing this connection's reading (ABI 1.5); false from an older host, which
  // slows every device.
  bool refuse_over_rate(bool refuse) {
    if (api_->struct_size <= offsetof(iotgw_host_api, refuse_over_rate) ||
        api_->refuse_over_rate == nullptr) {
      return false;
    }
    api_->refuse_over_rate(conn_, refuse ? 1 : 0);
    return true;
  }
  void set_timer(std::uint32_t id, std::chrono::milliseconds after) {
    api_->set_timer(conn_, id, static_cast<std::uint64_t>(after.count()));
  }
  void cancel_timer(std::uint32_t id) { api_->cancel_timer(conn_, id); }

  // Returns the token on_auth_result will carry.
  std::optional<std::uint64_t> authenticate(const iotgw_credentials& credentials) {
    std::uint64_t token = 0;
    if (api_->authenticate(conn_, &credentials, &token) != IOTGW_OK) return std::nullopt;
    return token;
  }

  // A login as most device protocols say it (MQTT's CONNECT, CoAP's query): the transport's
  // facts (peer, certificate, PSK identity) are the host's to add.
  std::optional<std::uint64_t> authenticate(std::string_view client_id, std::string_view username,
                                            std::string_view password) {
    iotgw_credentials c{};
    c.struct_size = sizeof c;
    c.client_id = to_c(client_id);
    c.username = to_c(username);
    c.password = {reinterpret_cast<const std::uint8_t*>(password.data()), password.size()};
    return authenticate(c);
  }

  OwnedMessage new_message() { return {api_, api_->msg_create(conn_)}; }

  // Takes the message. Returns the token on_upstream_result will carry (QoS 1), or the error.
  iotgw_status send_upstream(OwnedMessage&& msg, iotgw_qos qos, std::uint64_t& token) {
    return api_->send_upstream(conn_, msg.release(), qos, &token);
  }
  // The same, with the token (QoS 0: unused) or nullopt when the host refused the message.
  std::optional<std::uint64_t> send_upstream(OwnedMessage&& msg, bool at_least_once) {
    std::uint64_t token = 0;
    const auto qos = at_least_once ? IOTGW_QOS_AT_LEAST_ONCE : IOTGW_QOS_AT_MOST_ONCE;
    if (send_upstream(std::move(msg), qos, token) != IOTGW_OK) return std::nullopt;
    return token;
  }
  iotgw_status set_downstream(bool enabled) { return api_->set_downstream(conn_, enabled ? 1 : 0); }
  void settle(std::uint64_t delivery, iotgw_outcome outcome, const char* reason = nullptr) {
    api_->settle_downstream(conn_, delivery, outcome, reason);
  }

  // An operation upstream (ABI 1.2): the token on_operation_result will carry, or the error
  // (IOTGW_ERR_UNAVAILABLE from a host older than 1.2).
  iotgw_status request(iotgw_op_kind kind, std::string_view body, std::uint64_t& token,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds::zero()) {
    if (api_->struct_size <= offsetof(iotgw_host_api, request_upstream) ||
        api_->request_upstream == nullptr) {
      return IOTGW_ERR_UNAVAILABLE;
    }
    iotgw_op_request r{};
    r.struct_size = sizeof r;
    r.kind = kind;
    r.body = iotgw_bytes{reinterpret_cast<const std::uint8_t*>(body.data()), body.size()};
    r.timeout_ms = static_cast<std::uint64_t>(timeout.count());
    return api_->request_upstream(conn_, &r, &token);
  }
  // The device's answer to a method call (ABI 1.2).
  iotgw_status respond(std::uint64_t id, int status, std::string_view body) {
    if (api_->struct_size <= offsetof(iotgw_host_api, respond) || api_->respond == nullptr) {
      return IOTGW_ERR_UNAVAILABLE;
    }
    return api_->respond(
        conn_, id, status,
        iotgw_bytes{reinterpret_cast<const std::uint8_t*>(body.data()), body.size()});
  }

  const iotgw_host_api* api() const { return api_; }

 private:
  const iotgw_host_api* api_;
  iotgw_conn* conn_;
};

// One connection's protocol state. Override what the protocol needs.
class AdapterConnection {
 public:
  explicit AdapterConnection(Connection conn) : conn_(conn) {}
  virtual ~AdapterConnection() = default;
  AdapterConnection(const AdapterConnection&) = delete;
  AdapterConnection& operator=(const AdapterConnection&) = delete;

  // Returns how many bytes were used; the host keeps the rest. Throw iotgw::Error to close.
  virtual std::size_t on_bytes(std::span<const std::uint8_t> data) = 0;
  virtual void on_writable() {}
  virtual void on_timer(std::uint32_t /*id*/) {}
  virtual void on_auth_result(std::uint64_t /*token*/, iotgw_status /*status*/,
                              const iotgw_identity* /*identity*/, const char* /*reason*/) {}
  virtual void on_upstream_result(std::uint64_t /*token*/, iotgw_outcome /*outcome*/,
                                  const char* /*reason*/) {}
  virtual void on_downstream(const Message& /*msg*/, std::uint64_t delivery) {
    conn_.settle(delivery, IOTGW_REJECTED, "this adapter takes no downstream messages");
  }
  virtual void on_operation_result(std::uint64_t /*token*/, const OperationResult& /*result*/) {}
  // A method call the adapter does not handle is answered 501, so the caller is not left waiting.
  virtual void on_hub_request(const HubRequest& request) {
    if (request.kind == IOTGW_HUB_METHOD_CALL) {
      conn_.respond(request.id, 501, R"({"message":"this adapter answers no method calls"})");
    }
  }
  virtual void on_drain() {}
  // The host is about to close the connection for `cause` (ABI 1.3): a newer connection for the
  // device took over, or the hub dropped it. What is written here goes out before the close (an
  // MQTT 5 DISCONNECT with its reason code); the default says nothing.
  virtual void on_closing(iotgw_close_cause /*cause*/, std::string_view /*reason*/) {}
  // The connection is gone: no Connection call is allowed from here on, but one: a QoS 0
  // send_upstream, so that a protocol's last word (an MQTT will) still goes up.
  virtual void on_closed() {}

  // The connection this adapter serves (the host's callbacks reach it through here too).
  Connection& connection() { return conn_; }

 private:
  Connection conn_;
};

// A protocol adapter instance, made from its listener's options.
class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual std::unique_ptr<AdapterConnection> open(Connection conn, const iotgw_conn_info& info) = 0;
};

enum class Verdict { proceed = IOTGW_CONTINUE, drop = IOTGW_DROP, reject = IOTGW_REJECT };

// An authenticator's answer. Pending means the stage keeps the PendingAuth and completes it.
struct AuthDecision {
  iotgw_status status = IOTGW_ERR_REFUSED;
  std::string device_id, module_id, auth_method, hub_token, reason;

  static AuthDecision accept(std::string device, std::string method) {
    AuthDecision d;
    d.status = IOTGW_OK;
    d.device_id = std::move(device);
    d.auth_method = std::move(method);
    return d;
  }
  static AuthDecision refuse(std::string why) {
    AuthDecision d;
    d.reason = std::move(why);
    return d;
  }
  static AuthDecision pending() {
    AuthDecision d;
    d.status = IOTGW_PENDING;
    return d;
  }
  iotgw_identity identity() const {
    iotgw_identity id{};
    id.struct_size = sizeof id;
    id.device_id = to_c(device_id);
    id.module_id = to_c(module_id);
    id.auth_method = to_c(auth_method);
    id.hub_token = to_c(hub_token);
    return id;
  }
};

// Lets an authenticator answer later, from any thread, exactly once.
class PendingAuth {
 public:
  PendingAuth(const iotgw_host_api* api, iotgw_auth* request) : api_(api), request_(request) {}
  void complete(const AuthDecision& d) const {
    auto id = d.identity();
    api_->auth_complete(request_, d.status, &id, d.reason.empty() ? nullptr : d.reason.c_str());
  }

 private:
  const iotgw_host_api* api_;
  iotgw_auth* request_;
};

// A pipeline stage instance. Transforms must not block; the instance may be called from several
// event loops at once, so keep it read-only after construction.
class Stage {
 public:
  virtual ~Stage() = default;
  virtual Verdict upstream(Message& /*msg*/, std::string& /*reason*/) { return Verdict::proceed; }
  virtual Verdict downstream(Message& /*msg*/, std::string& /*reason*/) { return Verdict::proceed; }
  // `prior` is what an earlier authenticator decided (device_id empty if none).
  virtual AuthDecision authenticate(const iotgw_credentials& /*credentials*/,
                                    const iotgw_identity& prior, PendingAuth /*later*/) {
    return AuthDecision::accept(std::string(to_view(prior.device_id)),
                                std::string(to_view(prior.auth_method)));
  }
  // A DTLS pre-shared key for `identity` (ABI 1.4), or nullopt when this stage does not know it.
  // Called in the middle of a handshake on an event loop: answer from memory.
  virtual std::optional<std::string> psk_key(std::string_view /*identity*/) const {
    return std::nullopt;
  }
};

namespace detail {

inline void fill_error(iotgw_error* error, const char* text) {
  if (error != nullptr) std::snprintf(error->message, sizeof error->message, "%s", text);
}

// Runs f; turns any exception into `failure` with the text in *error.
template <class F>
iotgw_status guarded(iotgw_error* error, iotgw_status failure, F&& f) {
  try {
    f();
    return IOTGW_OK;
  } catch (const std::exception& e) {
    fill_error(error, e.what());
  } catch (...) {
    fill_error(error, "unknown exception");
  }
  return failure;
}

// The keys T declares: from its config map (iotgw/config_map.hpp), its config_keys array, or none.
template <class T>
std::span<const iotgw_config_key> declared_keys() {
  if constexpr (requires { T::config_map.keys(); }) {
    return T::config_map.keys();
  } else if constexpr (requires { T::config_keys; }) {
    return {std::data(T::config_keys), std::size(T::config_keys)};
  } else {
    return {};
  }
}

// A callback that has no error channel: an exception closes the connection.
template <class F>
void on_conn(void* state, F&& f) {
  // The state is the adapter's connection itself: a wrapper would be one more allocation per
  // device.
  auto& c = *static_cast<AdapterConnection*>(state);
  try {
    f(c);
  } catch (const std::exception& e) {
    c.connection().close(e.what());
  } catch (...) {
    c.connection().close("unknown exception in adapter");
  }
}

template <class A>
struct AdapterThunks {
  static iotgw_status create(const iotgw_host_api* api, const iotgw_plugin_ctx* ctx,
                             const iotgw_config* config, void** instance, iotgw_error* error) {
    return guarded(error, IOTGW_ERR_CONFIG, [&] {
      *instance = std::make_unique<A>(Context(api, ctx), Config(config)).release();
    });
  }
  static void destroy(void* instance) { std::unique_ptr<A>(static_cast<A*>(instance)).reset(); }
  static iotgw_status open(void* instance, iotgw_conn* conn, const iotgw_conn_info* info,
                           void** state, iotgw_error* error) {
    // api is reachable through the adapter's Context; the instance keeps it.
    auto* self = static_cast<A*>(instance);
    return guarded(error, IOTGW_ERR_REFUSED, [&] {
      *state = self->open(Connection(self->context().api(), conn), *info).release();
    });
  }
  static iotgw_status on_bytes(void* state, iotgw_bytes data, std::size_t* consumed,
                               iotgw_error* error) {
    auto* c = static_cast<AdapterConnection*>(state);
    return guarded(error, IOTGW_ERR_PROTOCOL, [&] {
      *consumed = c->on_bytes({data.data, data.size});
    });
  }
  static void on_writable(void* state) {
    on_conn(state, [](AdapterConnection& c) { c.on_writable(); });
  }
  static void on_timer(void* state, std::uint32_t id) {
    on_conn(state, [id](AdapterConnection& c) { c.on_timer(id); });
  }
  static void on_auth_result(void* state, std::uint64_t token, iotgw_status status,
                             const iotgw_identity* identity, const char* reason) {
    on_conn(state,
            [&](AdapterConnection& c) { c.on_auth_result(token, status, identity, reason); });
  }
  static void on_upstream_result(void* state, std::uint64_t token, iotgw_outcome outcome,
                                 const char* reason) {
    on_conn(state, [&](AdapterConnection& c) { c.on_upstream_result(token, outcome, reason); });
  }
  static void on_downstream(void* state, const iotgw_msg* msg, std::uint64_t delivery) {
    on_conn(state, [&](AdapterConnection& c) {
      c.on_downstream(Message(c.connection().api(), const_cast<iotgw_msg*>(msg)), delivery);
    });
  }
  static void on_drain(void* state) {
    on_conn(state, [](AdapterConnection& c) { c.on_drain(); });
  }
  static void on_operation_result(void* state, std::uint64_t token, const iotgw_op_result* r) {
    on_conn(state, [&](AdapterConnection& c) {
      c.on_operation_result(
          token, OperationResult{r->status,
                                 r->version,
                                 {reinterpret_cast<const char*>(r->body.data), r->body.size},
                                 to_view(r->reason)});
    });
  }
  static void on_hub_request(void* state, const iotgw_hub_request* r) {
    on_conn(state, [&](AdapterConnection& c) {
      c.on_hub_request(HubRequest{r->kind,
                                  r->id,
                                  to_view(r->name),
                                  {reinterpret_cast<const char*>(r->body.data), r->body.size},
                                  r->version});
    });
  }
  static void on_closing(void* state, iotgw_close_cause cause, const char* reason) {
    on_conn(state, [&](AdapterConnection& c) {
      c.on_closing(cause, reason != nullptr ? std::string_view(reason) : std::string_view());
    });
  }
  static void close(void* state) {
    std::unique_ptr<AdapterConnection> c(static_cast<AdapterConnection*>(state));
    try {
      c->on_closed();
    } catch (...) {  // the connection is gone; nothing left to tell
    }
  }
};

template <class S>
struct StageThunks {
  static iotgw_status create(const iotgw_host_api* api, const iotgw_plugin_ctx* ctx,
                             const iotgw_config* config, void** instance, iotgw_error* error) {
    return guarded(error, IOTGW_ERR_CONFIG, [&] {
      *instance = std::make_unique<S>(Context(api, ctx), Config(config)).release();
    });
  }
  static void destroy(void* instance) { std::unique_ptr<S>(static_cast<S*>(instance)).reset(); }

  template <class F>
  static iotgw_verdict transform(iotgw_error* error, F&& f) {
    std::string reason;
    Verdict v = Verdict::reject;
    iotgw_status st = guarded(error, IOTGW_ERR_INTERNAL, [&] { v = f(reason); });
    if (st != IOTGW_OK) return IOTGW_REJECT;  // the exception text is already in *error
    if (v == Verdict::reject) fill_error(error, reason.c_str());
    return static_cast<iotgw_verdict>(v);
  }
  static iotgw_verdict upstream(void* instance, iotgw_msg* msg, iotgw_error* error) {
    auto* self = static_cast<S*>(instance);
    return transform(error, [&](std::string& reason) {
      Message m(self->context().api(), msg);
      return self->upstream(m, reason);
    });
  }
  static iotgw_verdict downstream(void* instance, iotgw_msg* msg, iotgw_error* error) {
    auto* self = static_cast<S*>(instance);
    return transform(error, [&](std::string& reason) {
      Message m(self->context().api(), msg);
      return self->downstream(m, reason);
    });
  }
  static iotgw_status authenticate(void* instance, const iotgw_credentials* credentials,
                                   iotgw_identity* identity, iotgw_auth* request,
                                   iotgw_error* error) {
    auto* self = static_cast<S*>(instance);
    AuthDecision d;
    iotgw_status st = guarded(error, IOTGW_ERR_REFUSED, [&] {
      d = self->authenticate(*credentials, *identity, PendingAuth(self->context().api(), request));
    });
    if (st != IOTGW_OK) return st;
    if (d.status == IOTGW_OK) {
      // The identity strings must outlive this call; the instance keeps the last decision per
      // thread, which the host copies before the call returns.
      thread_local AuthDecision kept;
      kept = std::move(d);
      *identity = kept.identity();
      return IOTGW_OK;
    }
    fill_error(error, d.reason.c_str());
    return d.status;
  }
  static iotgw_status psk_key(void* instance, iotgw_str identity, uint8_t* key, size_t* size) {
    const auto* self = static_cast<const S*>(instance);
    std::optional<std::string> found;
    if (guarded(nullptr, IOTGW_ERR_INTERNAL, [&] { found = self->psk_key(to_view(identity)); }) !=
            IOTGW_OK ||
        !found || found->size() > *size) {
      return IOTGW_ERR_REFUSED;
    }
    std::copy(found->begin(), found->end(), key);  // bytes, not a C string
    *size = found->size();
    return IOTGW_OK;
  }
};

template <class T>
iotgw_plugin_descriptor make_descriptor(iotgw_plugin_kind kind, const iotgw_adapter_vtable* adapter,
                                        const iotgw_stage_vtable* stage) {
  iotgw_plugin_descriptor d{};
  d.struct_size = sizeof(iotgw_plugin_descriptor);
  d.abi_major = IOTGW_ABI_MAJOR;
  d.abi_minor = IOTGW_ABI_MINOR;
  d.name = T::name;
  d.version = T::version;
  d.description = T::description;
  d.kind = kind;
  const auto keys = declared_keys<T>();
  d.config_keys = keys.empty() ? nullptr : keys.data();
  d.config_key_count = keys.size();
  d.config_key_size = sizeof(iotgw_config_key);
  d.adapter = adapter;
  d.stage = stage;
  return d;
}

template <class A>
const iotgw_plugin_descriptor* adapter_descriptor() {
  using T = AdapterThunks<A>;
  static const iotgw_adapter_vtable vtable = {sizeof(iotgw_adapter_vtable),
                                              T::create,
                                              T::destroy,
                                              T::open,
                                              T::on_bytes,
                                              T::on_writable,
                                              T::on_timer,
                                              T::on_auth_result,
                                              T::on_upstream_result,
                                              T::on_downstream,
                                              T::on_drain,
                                              T::close,
                                              T::on_operation_result,
                                              T::on_hub_request,
                                              T::on_closing,
                                              {}};
  static const iotgw_plugin_descriptor descriptor =
      make_descriptor<A>(IOTGW_KIND_ADAPTER, &vtable, nullptr);
  return &descriptor;
}

template <class S>
const iotgw_plugin_descriptor* stage_descriptor() {
  using T = StageThunks<S>;
  static const iotgw_stage_vtable vtable = {sizeof(iotgw_stage_vtable),
                                            T::create,
                                            T::destroy,
                                            T::upstream,
                                            T::downstream,
                                            T::authenticate,
                                            T::psk_key,
                                            {}};
  static const iotgw_plugin_descriptor descriptor =
      make_descriptor<S>(IOTGW_KIND_STAGE, nullptr, &vtable);
  return &descriptor;
}

}  // namespace detail

// Base classes plugin authors derive from keep the Context the host gave them.
class AdapterBase : public Adapter {
 public:
  explicit AdapterBase(const Context& ctx) : ctx_(ctx) {}
  const Context& context() const { return ctx_; }

 private:
  Context ctx_;
};

class StageBase : public Stage {
 public:
  explicit StageBase(const Context& ctx) : ctx_(ctx) {}
  const Context& context() const { return ctx_; }

 private:
  Context ctx_;
};

}  // namespace iotgw

// One line per plugin: the class derives from iotgw::AdapterBase or iotgw::StageBase, has a
// constructor (const iotgw::Context&, const iotgw::Config&) and static `name`, `version`,
// `description` and (optionally) `config_keys`, an array of iotgw_config_key, or `config_map`,
// an iotgw::ConfigMap (iotgw/config_map.hpp).
#define IOTGW_ADAPTER_PLUGIN(Class)                                                 \
  extern "C" IOTGW_EXPORT const iotgw_plugin_descriptor* iotgw_plugin_entry(void) { \
    return ::iotgw::detail::adapter_descriptor<Class>();                            \
  }

#define IOTGW_STAGE_PLUGIN(Class)                                                   \
  extern "C" IOTGW_EXPORT const iotgw_plugin_descriptor* iotgw_plugin_entry(void) { \
    return ::iotgw::detail::stage_descriptor<Class>();                              \
  }

#endif  // IOTGW_PLUGIN_HPP
