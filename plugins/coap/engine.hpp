// One CoAP peer's session (RFC 7252 with Observe, RFC 7641, and block-wise transfer, RFC 7959),
// sans-I/O: datagrams, host answers and the time in; datagrams and host requests out, through
// EngineHost. The adapter plugin connects it to the iotgw host, whose udp and dtls transports
// make one connection per peer address; tests and the fuzzer drive it with no socket at all.
// What requests mean on IoT Hub is mapping.hpp's; README "CoAP" has the table.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "blockwise.hpp"
#include "codec/message.hpp"
#include "dedup.hpp"
#include "iotgw/abi.h"
#include "mapping.hpp"
#include "observe.hpp"
#include "retransmit.hpp"

namespace iotgw::coap {

struct EngineOptions {
  // An answer from the hub within this goes piggybacked in the ACK; later, an empty ACK goes
  // then and the answer as a separate response. Under the client's ACK_TIMEOUT (2 s), so the
  // client does not retransmit while the hub thinks.
  std::chrono::milliseconds piggyback_timeout{1'000};
  Backoff backoff;  // RFC 7252 4.8: ACK_TIMEOUT 2 s, ACK_RANDOM_FACTOR 1.5, MAX_RETRANSMIT 4
  // Our CONs (separate responses, notifications) awaiting the peer's ACK. RFC 7252's NSTART 1
  // would hold every separate response of a telemetry stream behind one round trip.
  std::size_t max_outstanding = 8;
  std::size_t max_reassembly = std::size_t{64} * 1024;  // Block1 bodies, and any request payload
  std::size_t block_size = 1024;    // Block2 for C2D bodies above it; 16 to 1024
  std::size_t dedup_entries = 256;  // message ids remembered per peer
  // Requests awaiting the hub or the login; more are answered 4.29 Too Many Requests.
  std::size_t max_pending_requests = 16;
  std::size_t max_queued_c2d = 16;              // C2D messages behind the notification in flight
  std::chrono::seconds exchange_lifetime{247};  // RFC 7252 4.8.2
  // The identity is the transport's (DTLS), not the `d` and `p` query parameters'.
  bool secure_transport = false;
  // Draws from [0, 1) for the retransmission timeout and message ids; empty: a private PRNG.
  std::function<double()> random;
};

struct Credentials {
  std::string client_id, username, password;
};

struct Upstream {
  std::string body;
  std::vector<std::pair<std::string, std::string>> system, application;
};

// What the engine asks of its host. All calls happen on the connection's loop.
class EngineHost {
 public:
  virtual ~EngineHost() = default;
  virtual void write(std::span<const std::uint8_t> datagram) = 0;
  // The engine's one timer: on_timer is called `after` from now (replacing any earlier one).
  virtual void set_timer(std::chrono::milliseconds after) = 0;
  virtual void cancel_timer() = 0;
  // The token on_auth_result will carry, or nullopt when the host refuses to start.
  virtual std::optional<std::uint64_t> authenticate(const Credentials& credentials) = 0;
  // At least once: the token on_upstream_result will carry; nullopt when the host refused it.
  virtual std::optional<std::uint64_t> send_upstream(Upstream message, bool at_least_once) = 0;
  virtual void set_downstream(bool enabled) = 0;
  virtual void settle(std::uint64_t delivery, iotgw_outcome outcome, const std::string& reason) = 0;
  virtual void log_warning(const std::string& message) = 0;
  virtual void log_debug(const std::string& message) = 0;
  // Ends this peer's session; the engine takes no datagram after it.
  virtual void close(const std::string& reason) = 0;
};

enum class AuthState { none, pending, done };

class Engine {
 public:
  Engine(EngineHost& host, EngineOptions options);

  // One datagram, all of it.
  void on_datagram(std::span<const std::uint8_t> datagram, Time now);
  void on_timer(Time now);
  void on_auth_result(std::uint64_t token, iotgw_status status, const std::string& device_id,
                      const std::string& reason, Time now);
  void on_upstream_result(std::uint64_t token, iotgw_outcome outcome, const std::string& reason,
                          Time now);
  void on_downstream(Downstream message, std::uint64_t delivery, Time now);

  // Nothing awaits an answer: no request the hub or the login has yet to answer, none of our CONs
  // unacknowledged or waiting to go. A draining host may end the session then.
  bool idle() const {
    return exchanges_.empty() && upstream_.empty() && outbox_.in_flight() == 0 &&
           outbox_.waiting() == 0;
  }
  AuthState auth_state() const { return auth_; }
  const std::string& device_id() const { return device_; }
  bool observing() const { return observation_.active(); }

 private:
  // A request the peer awaits an answer to: its ids, whether our empty ACK went out, and what
  // the answer must echo.
  struct Exchange {
    std::uint16_t id = 0;
    std::string token;
    Type type = Type::con;
    bool acked = false;
    Time ack_by{};
    std::optional<std::string> block1;  // the last block's Block1, echoed (RFC 7959 2.3)
    std::uint8_t no_response = 0;       // RFC 7967
    std::optional<Message> waiting;     // the request, held until the login is answered
  };
  using ExchangeId = std::uint64_t;

  // engine.cpp: datagrams, replies, timers, sending.
  void handle_reply(const Message& m, Time now);
  void handle_request(const Message& m, Time now);
  ExchangeId open(const Message& request, Time now);
  // The answer to an exchange: piggybacked, after our empty ACK as a CON, or a NON.
  void respond(ExchangeId ex, Message response);
  void respond(ExchangeId ex, Code code, std::string diagnostic = {});
  void send_empty_ack(Exchange& e);
  void push_con(const Message& m, Tag tag);
  void flush_outbox(Time now);
  void arm_timer(Time now);
  std::uint16_t next_id() { return next_id_++; }
  double draw();
  void debug(const std::string& what);

  // engine_auth.cpp: who the peer is, once.
  // False when the request was answered or held; true when it may go on now.
  bool identify(ExchangeId ex, const Message& m, const Query& q);
  void dispatch(ExchangeId ex, const Message& m, const Query& q, Time now);

  // engine_telemetry.cpp
  void handle_telemetry(ExchangeId ex, const Message& m, const Query& q, Time now);
  // The body, or nullopt once the exchange was answered (2.31, 4.08, 4.13).
  std::optional<std::string> request_body(ExchangeId ex, const Message& m, Time now);

  // engine_c2d.cpp
  void handle_c2d(ExchangeId ex, const Message& m, Time now);
  void serve_block(ExchangeId ex, const Message& m, const Block& asked);
  void stop_observing(const std::string& why);
  void notify_next(Time now);
  void notification_answered(const Tag& tag, bool ack, Time now);
  void notification_abandoned(const Tag& tag, Time now);
  void expire_bodies(Time now);

  EngineHost& host_;
  EngineOptions options_;
  std::uint32_t rng_;  // when options_.random is empty
  std::uint16_t next_id_;
  Dedup dedup_;
  Outbox outbox_;
  std::map<ExchangeId, Exchange> exchanges_;
  ExchangeId next_exchange_ = 1;
  std::map<std::uint64_t, ExchangeId> upstream_;  // host token -> the telemetry request

  AuthState auth_ = AuthState::none;
  bool closed_ = false;  // the session was handed back to the host
  std::uint64_t auth_token_ = 0;
  std::string login_;   // the `d` the login was asked with: a later `d` must be the same
  std::string device_;  // the identity the auth stages gave

  Reassembly reassembly_;
  Observation observation_;
  Bodies bodies_;
  std::uint32_t next_etag_ = 1;

  std::optional<Time> armed_;  // the timer's deadline as last set
};

}  // namespace iotgw::coap
