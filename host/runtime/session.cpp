#include "runtime/session.hpp"

#include <algorithm>
#include <chrono>

#include <boost/asio/post.hpp>

#include "iotgw/plugin.hpp"
#include "runtime/auth_run.hpp"

namespace iotgw::runtime {

Session::Session(std::shared_ptr<ListenerShared> listener, std::size_t loop)
    : listener_(std::move(listener)), loop_(loop) {
  if (listener_->rates.any()) rate_ = std::make_unique<DeviceRate>(listener_->rates);
}

Session::~Session() = default;

const std::string& Session::device_id() const {
  return device_id_;
}

bool Session::on_open(transport::Connection& conn, std::string& reason) {
  conn_ = &conn;
  const auto& stream = conn.stream();
  const std::string peer = stream.remote_address();
  const std::string local = stream.local_address();
  const std::string cn = stream.cert_subject_cn();
  const std::string thumb = stream.cert_sha256();
  const std::string psk = stream.psk_identity();
  iotgw_conn_info info{};
  info.struct_size = sizeof info;
  info.listener = to_c(listener_->name);
  info.peer_address = to_c(peer);
  info.local_address = to_c(local);
  info.tls = stream.tls() ? 1 : 0;
  info.cert_subject_cn = to_c(cn);
  info.cert_sha256 = to_c(thumb);
  if (auto upgrade = stream.upgrade()) upgrade_ = std::make_shared<const UpgradeView>(upgrade);
  info.upgrade = upgrade_ ? upgrade_->c_view() : nullptr;
  info.transport = to_c(stream.transport());
  info.psk_identity = to_c(psk);
  iotgw_error err{};
  const auto st = adapter().open(listener_->adapter->handle(), this, &info, &state_, &err);
  if (st != IOTGW_OK || state_ == nullptr) {
    state_ = nullptr;
    listener_->metrics.refused_adapter.inc();
    reason = err.message[0] != '\0' ? err.message : "the adapter refused the connection";
    return false;
  }
  return true;
}

bool Session::on_bytes(std::span<const std::uint8_t> data, std::size_t& consumed,
                       std::string& reason) {
  iotgw_error err{};
  const auto st = adapter().on_bytes(state_, {data.data(), data.size()}, &consumed, &err);
  if (st == IOTGW_OK) return true;
  reason = err.message[0] != '\0' ? err.message : "protocol error";
  return false;
}

void Session::on_writable() {
  if (state_ != nullptr && adapter().on_writable != nullptr) adapter().on_writable(state_);
}

void Session::on_timer(std::uint32_t id) {
  if (state_ != nullptr && adapter().on_timer != nullptr) adapter().on_timer(state_, id);
}

void Session::on_drain() {
  if (state_ != nullptr && adapter().on_drain != nullptr) adapter().on_drain(state_);
}

void Session::on_closed() {
  ticket_.reset();  // the place at the listener's gate is given back
  if (!device_id_.empty()) listener_->bridge.claims().release(device_id_, this);
  // What an adapter sends as the connection ends (an MQTT will) is its last word: it goes up
  // whatever the device's rate.
  rate_.reset();
  if (state_ != nullptr) adapter().close(state_);
  state_ = nullptr;
  conn_ = nullptr;
  rate_timer_.reset();
  device_.reset();  // detaches from the bridge; unsettled downstream messages are released
}

bool Session::over_rate(std::size_t bytes) {
  const auto now = DeviceRate::Clock::now();
  if (refuse_over_rate_ && rate_->wait(now) > DeviceRate::Clock::duration::zero()) {
    listener_->metrics.throttled_refused.inc();
    return true;
  }
  const auto wait = rate_->sent(bytes, now);
  if (refuse_over_rate_ || wait == DeviceRate::Clock::duration::zero()) return false;
  // What was read is handed on; the connection reads nothing more until the debt is repaid.
  // Armed again for a later message, the timer's earlier wait ends cancelled.
  if (!rate_timer_) rate_timer_ = std::make_unique<boost::asio::steady_timer>(conn_->loop());
  // Counted once per slow-down: a timer still armed means the device is being slowed already
  // (a new timer's expiry is the clock's epoch).
  if (rate_timer_->expiry() <= now) listener_->metrics.throttled_slowed.inc();
  conn_->pause_reading(transport::Connection::Hold::rate);
  rate_timer_->expires_after(wait);
  // A completion already queued when the timer was armed again must not end the new wait.
  rate_timer_->async_wait([weak = weak_from_this(),
                           armed_for = rate_timer_->expiry()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (!self || ec || self->conn_ == nullptr || !self->rate_timer_ ||
        self->rate_timer_->expiry() != armed_for) {
      return;
    }
    self->conn_->resume_reading(transport::Connection::Hold::rate);
  });
  return false;
}

iotgw_status Session::authenticate(const iotgw_credentials& credentials, std::uint64_t& token) {
  if (conn_ == nullptr) return IOTGW_ERR_STATE;
  if (authenticating_ || !device_id_.empty()) return IOTGW_ERR_STATE;
  authenticating_ = true;
  token = next_token_++;
  auto owned = OwnedCredentials::copy(credentials);
  // What the transport verified, never what an adapter says: a client certificate, the upgrade
  // request and the transport are the host's word.
  const auto& stream = conn_->stream();
  owned.cert_subject_cn = stream.cert_subject_cn();
  owned.cert_sha256 = stream.cert_sha256();
  owned.peer_address = stream.remote_address();
  owned.upgrade = upgrade_;
  owned.transport = stream.transport();
  owned.psk_identity = stream.psk_identity();
  auto run = std::make_shared<AuthRun>(
      pipeline(), std::move(owned), conn_->loop(),
      [weak = weak_from_this(), token](iotgw_status st, const bridge::Identity& id,
                                       const std::string& reason) {
        if (auto self = weak.lock()) self->on_auth_done(token, st, id, reason);
      });
  run->start();
  return IOTGW_OK;
}

void Session::on_auth_done(std::uint64_t token, iotgw_status status,
                           const bridge::Identity& identity, const std::string& reason) {
  authenticating_ = false;
  if (state_ == nullptr || conn_ == nullptr) return;
  if (status != IOTGW_OK) {
    if (ticket_) ticket_->established();  // answered: a device that tries again is not pending
    listener_->metrics.logins_refused.inc();
    listener_->log.info(
        "listener " + listener_->name,
        "authentication refused for " + conn_->stream().remote_address() + ": " + reason);
    if (adapter().on_auth_result != nullptr) {
      adapter().on_auth_result(state_, token, status, nullptr, reason.c_str());
    }
    return;
  }
  // The device's login is answered once the hub has taken it (or refused it): an MQTT CONNACK
  // can then say "server unavailable" or "not authorized" as the hub decided.
  device_id_ = identity.device_id;
  login_ = std::make_unique<bridge::Identity>(identity);
  auth_token_ = token;
  device_ = listener_->bridge.attach(conn_->loop(), identity, weak_from_this());
}

void Session::attached(iotgw_status status, const std::string& reason) {
  if (state_ == nullptr || conn_ == nullptr || !login_ || auth_token_ == 0) return;
  const auto token = std::exchange(auth_token_, 0);
  if (ticket_) ticket_->established();
  if (status != IOTGW_OK) {
    listener_->log.info("listener " + listener_->name,
                        device_id_ + ": the hub did not take the device: " + reason);
    listener_->metrics.logins_unavailable.inc();
    device_.reset();
    device_id_.clear();
    login_.reset();
    // The listener's own authenticators said yes; what the hub says after that is the
    // upstream's answer: "unavailable" (MQTT CONNACK 3), with the hub's reason.
    if (adapter().on_auth_result != nullptr) {
      adapter().on_auth_result(state_, token, IOTGW_ERR_UNAVAILABLE, nullptr, reason.c_str());
    }
    return;
  }
  listener_->metrics.logins_ok.inc();
  listener_->bridge.claims().claim(device_id_, conn_->loop(), shared_from_this());
  const auto login = std::move(login_);
  if (adapter().on_auth_result != nullptr) {
    iotgw_identity id{};
    id.struct_size = sizeof id;
    id.device_id = to_c(device_id_);
    id.module_id = to_c(login->module_id);
    id.auth_method = to_c(login->auth_method);
    adapter().on_auth_result(state_, token, IOTGW_OK, &id, nullptr);
  }
}

iotgw_status Session::send_upstream(std::unique_ptr<iotgw_msg> msg, iotgw_qos qos,
                                    std::uint64_t& token) {
  if (!device_ || conn_ == nullptr) return IOTGW_ERR_STATE;
  if (rate_ && over_rate(msg->body.size())) return IOTGW_ERR_LIMIT;
  msg->device_id = device_id_;
  const auto pipeline = this->pipeline();  // a reload may swap it while this runs
  auto verdict = pipeline->upstream(*msg);
  if (verdict.verdict == IOTGW_CONTINUE) {
    // An adapter marks what it cannot place (an MQTT topic outside IoT Hub's); a mapping stage
    // claims it by removing the mark. Unclaimed, it goes nowhere.
    auto& annotations = msg->scope(IOTGW_PROP_ANNOTATION);
    if (annotations.get("iotgw-unmapped") != nullptr) {
      const auto* topic = annotations.get("mqtt-topic");
      verdict = {IOTGW_REJECT, "topic '" + (topic != nullptr ? *topic : std::string()) +
                                   "' is not mapped by any stage"};
    }
  }
  token = next_token_++;
  const bool confirmed = qos == IOTGW_QOS_AT_LEAST_ONCE;
  const auto& metrics = listener_->metrics;
  if (verdict.verdict != IOTGW_CONTINUE) {
    metrics.message(Direction::upstream,
                    verdict.verdict == IOTGW_DROP ? Outcome::dropped : Outcome::refused);
    if (verdict.verdict == IOTGW_REJECT) {
      listener_->log.info("listener " + listener_->name,
                          device_id_ + ": upstream message refused: " + verdict.reason);
    }
    if (confirmed) {
      ++in_flight_;
      const auto outcome = verdict.verdict == IOTGW_DROP ? IOTGW_ACCEPTED : IOTGW_REJECTED;
      boost::asio::post(conn_->loop(), [weak = weak_from_this(), token, outcome,
                                        reason = std::move(verdict.reason)] {
        if (auto self = weak.lock()) self->on_upstream_done(token, outcome, reason);
      });
    }
    return IOTGW_OK;
  }
  metrics.bytes(Direction::upstream, msg->body.size());
  if (!confirmed) {
    metrics.message(Direction::upstream, Outcome::sent);
    device_->send(std::move(msg), qos, {});
    return IOTGW_OK;
  }
  ++in_flight_;
  // Counted here, not in on_upstream_done: the outcome counts even when the device has gone.
  device_->send(
      std::move(msg), qos,
      [weak = weak_from_this(), token, shared = listener_, sent = std::chrono::steady_clock::now()](
          iotgw_outcome outcome, const std::string& reason) {
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - sent;
        shared->metrics.upstream_latency.observe(took.count());
        shared->metrics.message(Direction::upstream, ListenerMetrics::outcome_of(outcome));
        if (auto self = weak.lock()) self->on_upstream_done(token, outcome, reason);
      });
  return IOTGW_OK;
}

void Session::on_upstream_done(std::uint64_t token, iotgw_outcome outcome,
                               const std::string& reason) {
  --in_flight_;
  if (state_ == nullptr || adapter().on_upstream_result == nullptr) return;
  adapter().on_upstream_result(state_, token, outcome, reason.empty() ? nullptr : reason.c_str());
}

iotgw_status Session::set_downstream(bool enabled) {
  if (!device_) return IOTGW_ERR_STATE;
  device_->set_downstream(enabled);
  return IOTGW_OK;
}

void Session::settle(std::uint64_t delivery, iotgw_outcome outcome, const char* reason) {
  if (!device_) return;
  listener_->metrics.message(Direction::downstream, ListenerMetrics::outcome_of(outcome));
  device_->settle(delivery, outcome, reason != nullptr ? reason : "");
}

iotgw_status Session::request(const iotgw_op_request& request, std::uint64_t& token) {
  // An adapter that cannot hear the answer (one built before ABI 1.2) makes no operations.
  if (!device_ || conn_ == nullptr || adapter().on_operation_result == nullptr) {
    return IOTGW_ERR_STATE;
  }
  token = next_token_++;
  bridge::Operation op;
  op.kind = request.kind;
  op.body.assign(reinterpret_cast<const char*>(request.body.data), request.body.size);
  if (request.timeout_ms > 0) {
    op.timeout = std::chrono::milliseconds(std::min<std::uint64_t>(request.timeout_ms, 1ULL << 40));
  }
  device_->request(std::move(op),
                   [weak = weak_from_this(), token](const bridge::OperationResult& result) {
                     if (auto self = weak.lock()) self->on_operation_done(token, result);
                   });
  return IOTGW_OK;
}

void Session::on_operation_done(std::uint64_t token, const bridge::OperationResult& result) {
  if (state_ == nullptr || adapter().on_operation_result == nullptr) return;
  iotgw_op_result r{};
  r.struct_size = sizeof r;
  r.status = result.status;
  r.version = result.version;
  r.body = {reinterpret_cast<const std::uint8_t*>(result.body.data()), result.body.size()};
  r.reason = to_c(result.reason);
  adapter().on_operation_result(state_, token, &r);
}

iotgw_status Session::respond(std::uint64_t id, int status, iotgw_bytes body) {
  if (!device_) return IOTGW_ERR_STATE;
  return device_->respond(id, status,
                          std::string(reinterpret_cast<const char*>(body.data), body.size))
             ? IOTGW_OK
             : IOTGW_ERR_STATE;
}

void Session::hub_request(const bridge::HubRequest& request) {
  if (!device_) return;
  if (state_ == nullptr || adapter().on_hub_request == nullptr) {
    // Nobody here can answer: say so rather than leave the caller waiting for the timeout.
    if (request.kind == IOTGW_HUB_METHOD_CALL) {
      device_->respond(request.id, 501,
                       R"({"message":"the device's adapter takes no method calls"})");
    }
    return;
  }
  iotgw_hub_request r{};
  r.struct_size = sizeof r;
  r.kind = request.kind;
  r.id = request.id;
  r.name = to_c(request.name);
  r.body = {reinterpret_cast<const std::uint8_t*>(request.body.data()), request.body.size()};
  r.version = request.version;
  adapter().on_hub_request(state_, &r);
}

void Session::close(iotgw_close_cause cause, const std::string& reason) {
  if (conn_ == nullptr) return;
  // An adapter built before 1.3 has no such callback; its table's slot there was reserved.
  if (state_ != nullptr && listener_->adapter->plugin().descriptor().abi_minor >= 3 &&
      adapter().on_closing != nullptr) {
    adapter().on_closing(state_, cause, reason.c_str());
  }
  // What the adapter wrote is queued; the close lets it flush first.
  if (conn_ != nullptr) conn_->close(reason);
}

void Session::upstream_ready(bool ready) {
  if (conn_ == nullptr) return;
  using Hold = transport::Connection::Hold;
  if (ready) {
    conn_->resume_reading(Hold::upstream);
  } else {
    conn_->pause_reading(Hold::upstream);
  }
}

void Session::deliver(std::unique_ptr<iotgw_msg> msg, std::uint64_t delivery) {
  if (state_ == nullptr || !device_) return;  // gone: the bridge device released it
  const auto pipeline = this->pipeline();
  auto verdict = pipeline->downstream(*msg);
  const auto& metrics = listener_->metrics;
  if (verdict.verdict != IOTGW_CONTINUE) {
    metrics.message(Direction::downstream,
                    verdict.verdict == IOTGW_DROP ? Outcome::dropped : Outcome::refused);
  }
  if (verdict.verdict == IOTGW_REJECT) {
    listener_->log.info("listener " + listener_->name,
                        device_id_ + ": downstream message refused: " + verdict.reason);
    device_->settle(delivery, IOTGW_REJECTED, verdict.reason);
    return;
  }
  if (verdict.verdict == IOTGW_DROP) {
    device_->settle(delivery, IOTGW_ACCEPTED, {});
    return;
  }
  if (adapter().on_downstream == nullptr) {
    device_->settle(delivery, IOTGW_REJECTED, "the adapter takes no downstream messages");
    return;
  }
  metrics.bytes(Direction::downstream, msg->body.size());
  adapter().on_downstream(state_, msg.get(), delivery);
}

}  // namespace iotgw::runtime
