#include "hub_server.hpp"

#include <chrono>
#include <ctime>
#include <map>

#include <proton/annotation_key.hpp>
#include <proton/codec/map.hpp>
#include <proton/message.hpp>

#include <nlohmann/json.hpp>
#include <proton/connection_options.hpp>
#include <proton/delivery.hpp>
#include <proton/delivery_mode.hpp>
#include <proton/error_condition.hpp>
#include <proton/listener.hpp>
#include <proton/message_id.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sasl.hpp>
#include <proton/scalar.hpp>
#include <proton/sender_options.hpp>
#include <proton/source.hpp>
#include <proton/ssl.hpp>
#include <proton/target.hpp>
#include <proton/timestamp.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/value.hpp>
#include <proton/work_queue.hpp>

#include "iotgw/common/amqp_text.hpp"
#include "iotgw/common/clock.hpp"
#include "iotgw/common/sas_token.hpp"
#include "json_text.hpp"
#include "message_facts.hpp"
#include "reject_with.hpp"
#include "token_check.hpp"

namespace iotgw::hub {

namespace {

constexpr const char* kUnauthorized = "amqp:unauthorized-access";
constexpr int kCredit = 100;
constexpr std::size_t kMaxPendingReplies = 100;

}  // namespace

HubServer::HubServer(std::shared_ptr<const Registry> registry, HubEndpoints endpoints, Logger& log,
                     HubMetrics& metrics, HubLimits limits)
    : endpoints_(std::move(endpoints)),
      log_(log),
      metrics_(metrics),
      limits_(limits),
      registry_(std::move(registry)),
      telemetry_(limits.telemetry_retention),
      c2d_(
          {limits.c2d, limits.max_c2d_bytes, limits.max_feedback_records},
          [this]() -> DurableLog& { return *durable_; }, [this] { return this->registry(); },
          metrics.c2d, log) {}

void HubServer::open_data_dir(const std::filesystem::path& dir, bool fsync) {
  std::size_t telemetry = 0, c2d = 0;
  DurableLog::Replay replay{[&](std::int64_t seq, const proton::message& m) {
                              telemetry_.restore(seq, m);
                              ++telemetry;
                            },
                            [&](const std::string& device, std::int64_t seq, std::int64_t expires,
                                std::int64_t enqueued, const proton::message& m) {
                              c2d_.queues().restore(device, seq, expires, enqueued, m);
                              ++c2d;
                            },
                            [&](const std::string& device, std::int64_t seq) {
                              c2d_.queues().restore_abandon(device, seq);
                            },
                            [&](const std::string& device, std::int64_t seq, const std::string&) {
                              c2d_.queues().restore_end(device, seq);
                              --c2d;
                            },
                            [&](std::int64_t telemetry_next, std::int64_t c2d_next) {
                              telemetry_.skip_to(telemetry_next);
                              c2d_.queues().skip_to(c2d_next);
                            },
                            [&](const std::string& device, const std::string& document) {
                              twins_.restore(device, document);
                            }};
  durable_ = std::make_unique<DurableLog>(dir, fsync, replay);
  durable_->compact([this](DurableLog& out) {
    twins_.for_each([&](const std::string& device, const std::string& document) {
      out.twin(device, document);
    });
    telemetry_.for_each([&](std::int64_t seq, const EncodedMessage& m) { out.telemetry(seq, m); });
    c2d_.queues().for_each([&](const C2dMessage& m) {
      out.c2d(m.device_id, m.sequence, m.expires_unix_ms, m.enqueued_ms, m.encoded);
      for (int i = 0; i < m.delivery_count; ++i) out.c2d_abandoned(m.device_id, m.sequence);
    });
    // Last: replay restores the retained messages first, and their numbers run up to this.
    out.sequences(telemetry_.next_sequence(), c2d_.queues().next_sequence());
  });
  metrics_.telemetry_retained.set(static_cast<std::int64_t>(telemetry_.size()));
  log_.info("hub", "data dir " + dir.string() + ": " + std::to_string(telemetry) +
                       " telemetry and " + std::to_string(c2d) + " queued C2D message(s) restored");
}

std::shared_ptr<const Registry> HubServer::registry() const {
  std::lock_guard lock(registry_mutex_);
  return registry_;
}

void HubServer::set_registry(std::shared_ptr<const Registry> registry) {
  std::lock_guard lock(registry_mutex_);
  registry_ = std::move(registry);
}

void HubServer::run() {
  {
    std::lock_guard lock(container_mutex_);
    container_ = std::make_unique<proton::container>(*this, "iotgw-hub");
  }
  if (stopping_) return;  // SIGTERM came while starting (a long data-dir replay, say)
  plain_listen_ = std::make_unique<Listen>(*this, endpoints_.listen, false);
  container_->listen(endpoints_.listen, *plain_listen_);
  if (!endpoints_.tls_listen.empty()) {
    tls_listen_ = std::make_unique<Listen>(*this, endpoints_.tls_listen, true);
    container_->listen(endpoints_.tls_listen, *tls_listen_);
  }
  container_->run();
}

bool HubServer::on_hub_thread(std::function<void()> work) {
  std::lock_guard lock(container_mutex_);
  if (!container_ || stopping_) return false;
  container_->schedule(proton::duration(0), std::move(work));  // thread-safe in Proton's proactor
  return true;
}

void HubServer::stop() {
  stopping_ = true;
  std::lock_guard lock(container_mutex_);
  if (container_) container_->stop();
}

proton::connection_options HubServer::Listen::on_accept(proton::listener&) {
  // PLAIN without TLS is what local development and the tests use; on 5671 it is encrypted.
  auto options = proton::connection_options().handler(server_).sasl_allow_insecure_mechs(true);
  if (tls_) {
    options.ssl_server_options(proton::ssl_server_options(
        proton::ssl_certificate(server_.endpoints_.cert_file, server_.endpoints_.key_file)));
  }
  return options;
}

Grant HubServer::plain_grant(std::string_view user, std::string_view password) const {
  const auto reg = registry();
  const std::string hub_name = reg->hostname.substr(0, reg->hostname.find('.'));
  const std::string u(user);
  const auto at = u.rfind("@sas.");
  if (at == std::string::npos)
    return {401, "user must be {device}@sas.{hub} or {policy}@sas.root.{hub}", {}, false};
  const std::string who = u.substr(0, at);
  const std::string rest = u.substr(at + 5);
  if (rest == "root." + hub_name) {
    std::string why;
    auto t = sas::parse(std::string(password), why);
    if (!t || t->policy != who)
      return {401, "the token is not signed for policy '" + who + "'", {}, false};
    const Policy* policy = reg->policy(who);
    if (policy != nullptr && policy->rights.count("service") == 0 &&
        policy->rights.count("device") != 0) {
      // A gateway's login with its device-connect policy: it proves who is calling and grants
      // nothing by itself; each device on the connection still puts its own token (CBS).
      if (t->expiry <= unix_seconds()) return {401, "token expired", {}, false};
      if (!sas::covers(t->resource, reg->hostname))
        return {401, "token for '" + t->resource + "' does not cover " + reg->hostname, {}, false};
      if (!sas::signed_with(*t, policy->key))
        return {401, "signature does not match policy '" + who + "'", {}, false};
      return {200, "OK", {}, false, t->expiry};
    }
    return check_token(*reg, std::string(password), reg->hostname);
  }
  if (rest != hub_name) return {401, "hub name '" + rest + "' is not " + hub_name, {}, false};
  return check_token(*reg, std::string(password),
                     reg->hostname + "/devices/" + sas::url_encode(who));
}

bool HubServer::check_plain(std::string_view user, std::string_view password,
                            std::string& result) const {
  const Grant g = plain_grant(user, password);
  metrics_.plain_logins[g.status == 200 ? LoginResult::ok : LoginResult::refused].inc();
  if (g.status != 200) {
    result = std::to_string(g.status) + " " + g.description;
    log_.info("hub", "SASL PLAIN refused for " + std::string(user) + ": " + result);
    return false;
  }
  result = g.service              ? "service:" + std::to_string(g.expiry)
           : !g.device_id.empty() ? "device:" + std::to_string(g.expiry) + ":" + g.device_id
                                  : "login:" + std::to_string(g.expiry);
  return true;
}

void HubServer::Listen::on_open(proton::listener& l) {
  const auto colon = address_.rfind(':');
  server_.log_.info("hub", std::string(tls_ ? "TLS " : "") + "listening on " +
                               address_.substr(0, colon) + ":" + std::to_string(l.port()) +
                               " (hub " + server_.registry()->hostname + ")");
}

void HubServer::Listen::on_error(proton::listener&, const std::string& what) {
  server_.log_.error("hub", "cannot listen on " + address_ + ": " + what);
  server_.stop();
}

void HubServer::on_connection_open(proton::connection& c) {
  if (connections_.size() >= limits_.max_connections) {
    metrics_.connections_refused.inc();
    c.close(proton::error_condition("amqp:resource-limit-exceeded", "too many connections"));
    return;
  }
  auto& state = connections_[c];
  state.open = true;
  metrics_.connections_accepted.inc();
  metrics_.connections_open.add(1);
  // A PLAIN login already proved one identity: grant it as a CBS token would.
  const auto sasl = c.transport().sasl();
  if (sasl.mech() == "PLAIN") {
    const std::string principal = sasl.user();
    // "service:{expiry}", "device:{expiry}:{id}" or "login:{expiry}", as check_plain wrote it.
    const auto first = principal.find(':');
    const auto second = principal.find(':', first + 1);
    const std::int64_t expiry = std::stoll(principal.substr(first + 1, second - first - 1));
    if (principal.rfind("service:", 0) == 0) state.service_until = expiry;
    if (principal.rfind("device:", 0) == 0) state.devices[principal.substr(second + 1)] = expiry;
  }
  c.open();
}

void HubServer::on_transport_close(proton::transport& t) {
  const auto c = t.connection();
  for (auto it = inbound_.begin(); it != inbound_.end();) {
    it = it->first.connection() == c ? inbound_.erase(it) : std::next(it);
  }
  for (auto it = consumers_.begin(); it != consumers_.end();) {
    it = it->first.connection() == c ? consumers_.erase(it) : std::next(it);
  }
  c2d_.connection_closed(c);
  operations_.connection_closed(c);
  // Proton reports a transport error and then its close: the connection goes once.
  if (auto it = connections_.find(c); it != connections_.end()) {
    if (it->second.open) metrics_.connections_open.add(-1);
    connections_.erase(it);
  }
}

void HubServer::refuse(proton::link& l, const std::string& why) {
  metrics_.links_refused[LinkRefusal::unauthorized].inc();
  log_.info("hub", "refused link '" + l.name() + "': " + why);
  l.close(proton::error_condition(kUnauthorized, why));
}

void HubServer::not_found(proton::link& l, const std::string& why) {
  metrics_.links_refused[LinkRefusal::not_found].inc();
  l.close(proton::error_condition("amqp:not-found", why));
}

bool HubServer::admit(const ConnState& state, const Node& node, proton::link& l) {
  const bool device_node = node.device_node();
  const auto now = unix_seconds();
  if (device_node && !state.holds_device(node.device_id, now)) {
    refuse(l, "no valid token for device '" + node.device_id +
                  "' on this connection: put one on $cbs first");
    return false;
  }
  if (!device_node && node.kind != Node::cbs && node.kind != Node::unknown &&
      state.service_until <= now) {
    refuse(l, "no valid service token on this connection: put one on $cbs first");
    return false;
  }
  return true;
}

void HubServer::on_receiver_open(proton::receiver& r) {
  auto& state = connections_[r.connection()];
  const Node node = parse_node(r.target().address());
  if (!admit(state, node, r)) return;
  switch (node.kind) {
    case Node::cbs: break;
    case Node::device_telemetry: take_over(node.device_id, r.connection()); break;
    case Node::service_c2d: break;
    case Node::device_twin:
    case Node::device_methods:
      take_over(node.device_id, r.connection());
      // Requests and answers come pre-settled, as Azure's SDKs attach these links.
      inbound_[r] = {node};
      r.open(proton::receiver_options().credit_window(kCredit));
      return;
    default: not_found(r, "no node '" + r.target().address() + "' to send to"); return;
  }
  inbound_[r] = {node};
  r.open(proton::receiver_options().auto_accept(false).credit_window(kCredit));
}

void HubServer::on_sender_open(proton::sender& s) {
  auto& state = connections_[s.connection()];
  const Node node = parse_node(s.source().address());
  if (!admit(state, node, s)) return;
  switch (node.kind) {
    case Node::cbs:
      s.open();
      state.cbs_reply = s;
      for (auto& m : state.pending_replies) s.send(m);
      state.pending_replies.clear();
      return;
    case Node::service_events: {
      s.open();
      // A consumer group reads from the oldest retained message; partitions other than 0 are
      // empty (this hub has one).
      auto& c = consumers_[s];
      c.group = node.group;
      c.next = node.partition == "0" ? 1 : telemetry_.next_sequence() + (1LL << 62);
      pump(s, c);
      return;
    }
    case Node::device_c2d:
      take_over(node.device_id, s.connection());
      s.open();
      c2d_.device_attached(node.device_id, s);
      return;
    case Node::service_feedback:
      s.open();
      c2d_.feedback_attached(s);
      return;
    case Node::device_twin:
      take_over(node.device_id, s.connection());
      s.open(proton::sender_options().delivery_mode(proton::delivery_mode::AT_MOST_ONCE));
      operations_.twin_attached(node.device_id, s);
      return;
    case Node::device_methods:
      take_over(node.device_id, s.connection());
      s.open(proton::sender_options().delivery_mode(proton::delivery_mode::AT_MOST_ONCE));
      operations_.methods_attached(node.device_id, s);
      return;
    default: not_found(s, "no node '" + s.source().address() + "' to receive from");
  }
}

void HubServer::on_receiver_close(proton::receiver& r) {
  inbound_.erase(r);
}

void HubServer::on_sender_close(proton::sender& s) {
  operations_.link_closed(s);
  consumers_.erase(s);
  c2d_.link_closed(s);
  auto it = connections_.find(s.connection());
  if (it != connections_.end() && it->second.cbs_reply == s)
    it->second.cbs_reply = proton::sender();
}

void HubServer::on_message(proton::delivery& d, proton::message& m) {
  // A client controls every field: a property of an unexpected type makes Proton throw. That
  // refuses this message, never stops the hub.
  try {
    dispatch(d, m);
  } catch (const std::exception& e) {
    log_.info("hub", std::string("message refused: ") + e.what());
    const std::string why = std::string("cannot read the message: ") + e.what();
    auto in = inbound_.find(d.receiver());
    const auto kind = in != inbound_.end() ? in->second.node.kind : Node::unknown;
    if (kind == Node::device_telemetry) {
      reject_telemetry(d, TelemetryRefusal::malformed, "amqp:decode-error", why);
    } else {
      if (kind == Node::service_c2d) metrics_.c2d.refused[C2dRefusal::malformed].inc();
      reject_with(d, "amqp:decode-error", why);
    }
  }
}

void HubServer::dispatch(proton::delivery& d, proton::message& m) {
  auto in = inbound_.find(d.receiver());
  if (in == inbound_.end()) {
    d.release();
    return;
  }
  const Node node = in->second.node;
  if (node.kind == Node::cbs) {
    put_token(connections_[d.connection()], d, m);
  } else if (node.kind == Node::device_telemetry) {
    telemetry(node, d, m);
  } else if (node.kind == Node::service_c2d) {
    c2d_.service_send(d, m);
  } else if (node.kind == Node::device_twin || node.kind == Node::device_methods) {
    if (!d.settled()) d.accept();  // the answer is a message; the transfer itself just arrived
    if (node.kind == Node::device_twin) {
      operations_.twin_request(node.device_id, m);
    } else {
      operations_.method_answer(node.device_id, m);
    }
  }
}

void HubServer::reply_cbs(proton::connection c, ConnState& state, proton::message reply) {
  if (state.cbs_reply && state.cbs_reply.active()) {
    state.cbs_reply.send(reply);
  } else {
    if (state.pending_replies.size() >= kMaxPendingReplies) {
      c.close(proton::error_condition("amqp:resource-limit-exceeded",
                                      "too many CBS replies waiting for a $cbs receiver"));
      return;
    }
    state.pending_replies.push_back(std::move(reply));
  }
}

void HubServer::put_token(ConnState& state, proton::delivery& d, const proton::message& m) {
  proton::message reply;
  reply.correlation_id(m.id());
  const std::string operation = property(m, "operation");
  const std::string type = property(m, "type");
  const std::string audience = property(m, "name");
  Grant g;
  if (operation != "put-token") {
    g = {400, "operation '" + operation + "' is not supported (put-token is)", {}, false};
  } else if (type != "servicebus.windows.net:sastoken" && type != "azure-devices.net:sastoken") {
    g = {400, "token type '" + type + "' is not supported", {}, false};
  } else {
    g = check_token(*registry(), amqp_text(m.body()), audience);
  }
  metrics_.put_tokens[cbs_result(g.status)].inc();
  if (g.status == 200) {
    if (!g.device_id.empty())
      state.devices[g.device_id] = std::max(state.devices[g.device_id], g.expiry);
    if (g.service) state.service_until = std::max(state.service_until, g.expiry);
    log_.info("hub", "CBS: token accepted for " + audience);
  } else {
    log_.info("hub", "CBS: token refused for " + audience + ": " + std::to_string(g.status) + " " +
                         g.description);
  }
  reply.properties().put("status-code", static_cast<std::int32_t>(g.status));
  reply.properties().put("status-description", g.description);
  reply_cbs(d.connection(), state, std::move(reply));
  d.accept();
}

void HubServer::reject_telemetry(proton::delivery& d, TelemetryRefusal reason,
                                 const std::string& condition, const std::string& why) {
  metrics_.telemetry_rejected[reason].inc();
  reject_with(d, condition, why);
}

void HubServer::telemetry(const Node& node, proton::delivery& d, proton::message& m) {
  const std::size_t size = counted_size(m);
  if (size > limits_.max_d2c_bytes) {
    const std::string why = "message of " + std::to_string(size) + " bytes is over the " +
                            std::to_string(limits_.max_d2c_bytes) + "-byte limit";
    log_.info("hub", node.device_id + ": telemetry rejected: " + why);
    reject_telemetry(d, TelemetryRefusal::too_large, "amqp:link:message-size-exceeded", why);
    return;
  }
  auto& ann = m.message_annotations();
  ann.put(proton::annotation_key(proton::symbol("iothub-connection-device-id")), node.device_id);
  ann.put(proton::annotation_key(proton::symbol("iothub-connection-auth-method")),
          std::string(R"({"scope":"device","type":"sas","issuer":"iothub"})"));
  ann.put(proton::annotation_key(proton::symbol("iothub-enqueuedtime")),
          proton::timestamp(unix_millis()));
  const std::int64_t seq = telemetry_.next_sequence();
  ann.put(proton::annotation_key(proton::symbol("x-opt-sequence-number")), seq);
  // Encoded once, into a buffer kept for it, for the log and the data dir; the message itself
  // stays with Proton, which decodes the link's next one into it without allocating anew.
  EncodedMessage encoded = encode_exact(m, encode_buffer_);
  try {
    durable_->telemetry(seq, encoded);  // before the device hears "accepted"
  } catch (const std::exception& e) {
    log_.error("hub", e.what());
    reject_telemetry(d, TelemetryRefusal::store_failed, "amqp:internal-error",
                     "the hub could not store the message");
    return;
  }
  telemetry_.append(std::move(encoded));
  d.accept();
  metrics_.telemetry_accepted.inc();
  metrics_.telemetry_accepted_bytes.inc(size);
  metrics_.telemetry_retained.set(static_cast<std::int64_t>(telemetry_.size()));
  for (auto& [sender, consumer] : consumers_) {
    proton::sender s = sender;
    pump(s, consumer);
  }
}

void HubServer::on_sendable(proton::sender& s) {
  auto it = consumers_.find(s);
  if (it != consumers_.end()) pump(s, it->second);
  c2d_.on_sendable(s);
}

void HubServer::pump(proton::sender& s, Consumer& c) {
  bool sent = false;
  while (s.active() && s.credit() > 0) {
    const EncodedMessage* m = telemetry_.at_or_after(c.next);
    if (m == nullptr) break;
    consumer_message_.decode(*m);
    s.send(consumer_message_);
    metrics_.telemetry_sent.inc();
    ++c.next;
    sent = true;
  }
  // The link may belong to another connection than the one whose event runs now: wake it, or
  // its frames wait for its next I/O.
  if (sent) s.connection().wake();
}

void HubServer::take_over(const std::string& device, const proton::connection& from) {
  // One connection per device, as IoT Hub: a new one takes the device's links over.
  bool logged = false;
  auto close_if_other = [&](proton::link l) {
    if (l.connection() != from && l.active()) {
      if (!logged) {
        log_.info("hub", device +
                             ": attached again on another connection: the old one's links "
                             "are detached (amqp:link:stolen)");
        logged = true;
      }
      l.close(proton::error_condition("amqp:link:stolen",
                                      "device '" + device + "' connected again elsewhere"));
      l.connection().wake();
    }
  };
  if (auto link = c2d_.link_of(device)) {
    close_if_other(link);
    if (link.connection() != from) c2d_.link_closed(link);
  }
  for (auto& [r, in] : inbound_) {
    if (in.node.device_node() && in.node.device_id == device) close_if_other(r);
  }
  for (auto& s : operations_.senders_of(device)) {
    if (s.connection() != from) {
      close_if_other(s);
      operations_.link_closed(s);
    }
  }
}

// Outcomes on the hub's own senders are the devices' C2D dispositions.
void HubServer::on_tracker_accept(proton::tracker& t) {
  c2d_.on_accept(t);
}
void HubServer::on_tracker_reject(proton::tracker& t) {
  c2d_.on_reject(t);
}
void HubServer::on_tracker_release(proton::tracker& t) {
  c2d_.on_release(t);
}

void HubServer::on_error(const proton::error_condition& e) {
  log_.info("hub", "AMQP error: " + e.name() + ": " + e.description());
}

void HubServer::on_transport_error(proton::transport& t) {
  if (!stopping_) log_.info("hub", "connection closed on an error: " + t.error().what());
  on_transport_close(t);
}

void HubServer::on_container_start(proton::container& c) {
  c.schedule(proton::duration(250), [this] { sweep(); });
}

void HubServer::expire_grants(const Registry* changed) {
  const auto now = unix_seconds();
  const proton::error_condition expired(kUnauthorized,
                                        "the token expired, or the device was disabled or removed");
  for (auto& [conn, state] : connections_) {
    std::set<std::string> gone;
    for (auto it = state.devices.begin(); it != state.devices.end();) {
      // A registry read again on SIGHUP may have disabled or removed the device.
      const Device* device = changed != nullptr ? changed->device(it->first) : nullptr;
      const bool revoked = changed != nullptr && (device == nullptr || !device->enabled);
      if (it->second > now && !revoked) {
        ++it;
        continue;
      }
      gone.insert(it->first);
      it = state.devices.erase(it);
    }
    const bool service_gone = state.service_until != 0 && state.service_until <= now;
    if (service_gone) state.service_until = 0;
    if (gone.empty() && !service_gone) continue;
    for (auto& [r, in] : inbound_) {
      if (r.connection() != conn || !r.active()) continue;
      if ((in.node.kind == Node::device_telemetry && gone.count(in.node.device_id) != 0) ||
          (in.node.kind == Node::service_c2d && service_gone)) {
        proton::receiver link = r;
        link.close(expired);
      }
    }
    c2d_.revoke(conn, gone, service_gone, expired);
    if (service_gone) {
      for (const auto& [s, c] : consumers_) {
        if (s.connection() == conn) proton::sender(s).close(expired);
      }
    }
    proton::connection(conn).wake();
  }
}

void HubServer::sweep() {
  if (stopping_) return;
  // The registry is looked through only when SIGHUP replaced it, not on every tick.
  const auto reg = registry();
  expire_grants(reg != swept_registry_ ? reg.get() : nullptr);
  swept_registry_ = reg;
  c2d_.sweep();
  operations_.sweep(unix_millis());
  container_->schedule(proton::duration(250), [this] { sweep(); });
}

}  // namespace iotgw::hub
