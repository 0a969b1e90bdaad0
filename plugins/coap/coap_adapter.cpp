// `coap`: CoAP (RFC 7252, Observe, block-wise) devices on IoT Hub, over the host's udp and dtls
// transports, where one connection is one peer address and each on_bytes one datagram. The
// protocol lives in Engine (sans-I/O); this file only connects it to the host.
#include <memory>

#include "engine.hpp"
#include "iotgw/plugin.hpp"

namespace {

using iotgw::coap::Credentials;
using iotgw::coap::Downstream;
using iotgw::coap::Engine;
using iotgw::coap::EngineOptions;
using iotgw::coap::Upstream;

constexpr std::uint32_t kTimer = 1;  // the engine has one timer

std::chrono::steady_clock::time_point now() {
  return std::chrono::steady_clock::now();
}

class CoapConnection final : public iotgw::AdapterConnection, public iotgw::coap::EngineHost {
 public:
  CoapConnection(iotgw::Connection conn, const EngineOptions& options, const iotgw::Context& ctx)
      : AdapterConnection(conn), ctx_(ctx), engine_(*this, options) {}

  // AdapterConnection
  std::size_t on_bytes(std::span<const std::uint8_t> data) override {
    engine_.on_datagram(data, now());
    close_if_drained();
    return data.size();  // one datagram, used whole
  }
  void on_timer(std::uint32_t) override {
    engine_.on_timer(now());
    close_if_drained();
  }
  // A peer never says goodbye over UDP: the session ends as soon as nothing awaits an answer,
  // not at the drain deadline.
  void on_drain() override {
    draining_ = true;
    close_if_drained();
  }
  void on_auth_result(std::uint64_t token, iotgw_status status, const iotgw_identity* identity,
                      const char* reason) override {
    engine_.on_auth_result(
        token, status, identity != nullptr ? std::string(iotgw::to_view(identity->device_id)) : "",
        reason != nullptr ? reason : "", now());
    close_if_drained();
  }
  void on_upstream_result(std::uint64_t token, iotgw_outcome outcome, const char* reason) override {
    engine_.on_upstream_result(token, outcome, reason != nullptr ? reason : "", now());
    close_if_drained();
  }
  void on_downstream(const iotgw::Message& msg, std::uint64_t delivery) override {
    Downstream m{std::string(msg.body()), {}};
    if (auto type = msg.get(iotgw::Scope::system, "content-type")) m.content_type = *type;
    engine_.on_downstream(std::move(m), delivery, now());
    close_if_drained();
  }

  // EngineHost
  void write(std::span<const std::uint8_t> datagram) override { connection().write(datagram); }
  void set_timer(std::chrono::milliseconds after) override {
    connection().set_timer(kTimer, after);
  }
  void cancel_timer() override { connection().cancel_timer(kTimer); }
  std::optional<std::uint64_t> authenticate(const Credentials& c) override {
    return connection().authenticate(c.client_id, c.username, c.password);
  }
  std::optional<std::uint64_t> send_upstream(Upstream message, bool at_least_once) override {
    auto msg = connection().new_message();
    msg.set_body(message.body);
    msg.set_all(iotgw::Scope::system, message.system);
    msg.set_all(iotgw::Scope::application, message.application);
    return connection().send_upstream(std::move(msg), at_least_once);
  }
  void set_downstream(bool enabled) override { connection().set_downstream(enabled); }
  void settle(std::uint64_t delivery, iotgw_outcome outcome, const std::string& reason) override {
    connection().settle(delivery, outcome, reason.empty() ? nullptr : reason.c_str());
  }
  void log_warning(const std::string& message) override { ctx_.warn(message); }
  void close(const std::string& reason) override {
    closed_ = true;
    connection().close(reason);
  }
  void log_debug(const std::string& message) override { ctx_.debug(message); }

 private:
  void close_if_drained() {
    if (!draining_ || closed_ || !engine_.idle()) return;
    closed_ = true;
    connection().close("the gateway is draining");
  }

  const iotgw::Context& ctx_;
  Engine engine_;
  bool draining_ = false;
  bool closed_ = false;
};

class CoapAdapter final : public iotgw::AdapterBase {
 public:
  static constexpr const char* name = "coap";
  static constexpr const char* version = "0.1.0";
  static constexpr const char* description =
      "CoAP (RFC 7252) over udp or dtls: POST /telemetry, GET /c2d with Observe, block-wise";
  static constexpr iotgw_config_key config_keys[] = {
      {"piggyback_timeout", IOTGW_CFG_DURATION, "1s",
       "a hub answer within this goes in the ACK; later, an empty ACK then a separate response"},
      {"ack_timeout", IOTGW_CFG_DURATION, "2s",
       "RFC 7252 ACK_TIMEOUT: our CONs are sent again after this x a random factor, doubling"},
      {"ack_random_factor", IOTGW_CFG_DOUBLE, "1.5", "RFC 7252 ACK_RANDOM_FACTOR (1 to 4)"},
      {"max_retransmit", IOTGW_CFG_INT, "4",
       "RFC 7252 MAX_RETRANSMIT: a CON unanswered after this many resends is given up"},
      {"max_outstanding", IOTGW_CFG_INT, "8",
       "our CONs (separate responses, notifications) awaiting a peer's ACK; more wait (RFC "
       "7252's NSTART 1 would serialise a telemetry stream's separate responses)"},
      {"max_reassembly", IOTGW_CFG_SIZE, "64KB",
       "largest request body (Block1 reassembled); larger gets 4.13 with Size1"},
      {"block_size", IOTGW_CFG_SIZE, "1024",
       "Block2 size for C2D bodies, and the largest Block1 size asked (16 to 1024, a power of 2)"},
      {"dedup_entries", IOTGW_CFG_INT, "256",
       "message ids remembered per peer for EXCHANGE_LIFETIME (247 s), answers replayed"},
      {"max_pending_requests", IOTGW_CFG_INT, "16",
       "requests per peer awaiting the hub or the login; more get 4.29 with Max-Age"},
      {"max_queued_c2d", IOTGW_CFG_INT, "16",
       "C2D messages per observer behind the notification in flight; more go back to the hub"},
  };

  CoapAdapter(const iotgw::Context& ctx, const iotgw::Config& config) : AdapterBase(ctx) {
    options_.piggyback_timeout = config.duration("piggyback_timeout");
    options_.backoff.ack_timeout = config.duration("ack_timeout");
    if (options_.backoff.ack_timeout.count() <= 0) throw iotgw::Error("ack_timeout must be > 0");
    options_.backoff.random_factor = config.number("ack_random_factor");
    if (options_.backoff.random_factor < 1.0 || options_.backoff.random_factor > 4.0) {
      throw iotgw::Error("ack_random_factor must be from 1 to 4");
    }
    if (options_.piggyback_timeout.count() < 0 ||
        options_.piggyback_timeout >= options_.backoff.ack_timeout) {
      throw iotgw::Error("piggyback_timeout must be >= 0 and below ack_timeout");
    }
    options_.backoff.max_retransmit =
        static_cast<unsigned>(config.integer("max_retransmit", 0, 20));
    options_.max_outstanding = static_cast<std::size_t>(config.integer("max_outstanding", 1, 1024));
    options_.max_reassembly = config.size("max_reassembly");
    if (options_.max_reassembly < 16 || options_.max_reassembly > (std::size_t{16} << 20)) {
      throw iotgw::Error("max_reassembly must be from 16 bytes to 16MiB");
    }
    options_.block_size = config.size("block_size");
    if (options_.block_size < 16 || options_.block_size > 1024 ||
        (options_.block_size & (options_.block_size - 1)) != 0) {
      throw iotgw::Error("block_size must be a power of 2 from 16 to 1024");
    }
    options_.dedup_entries = static_cast<std::size_t>(config.integer("dedup_entries", 1, 65536));
    options_.max_pending_requests =
        static_cast<std::size_t>(config.integer("max_pending_requests", 1, 65535));
    options_.max_queued_c2d = static_cast<std::size_t>(config.integer("max_queued_c2d", 0, 65535));
  }

  std::unique_ptr<iotgw::AdapterConnection> open(iotgw::Connection conn,
                                                 const iotgw_conn_info& info) override {
    auto options = options_;
    options.secure_transport = iotgw::transport_of(info) == "dtls";
    return std::make_unique<CoapConnection>(conn, options, context());
  }

 private:
  EngineOptions options_;
};

}  // namespace

IOTGW_ADAPTER_PLUGIN(CoapAdapter)
