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
#include "reject_with.hpp"
#include "token_check.hpp"

namespace iotgw::hub {

namespace {

constexpr const char* kUnauthorized = "amqp:unauthorized-access";
constexpr int kCredit = 100;
constexpr std::size_t kMaxPendingReplies = 100;

std::string property(const proton::message& m, const std::string& key) {
  const auto& props = m.properties();
  if (!props.exists(key)) return {};
  const proton::scalar v = props.get(key);
  if (v.type() == proton::STRING) return proton::get<std::string>(v);
  if (v.type() == proton::SYMBOL) return proton::get<proton::symbol>(v);
  return {};
}

// What IoT Hub counts towards the 256 KB: body, system property values, application property
// names and values.
std::size_t counted_size(const proton::message& m) {
  std::size_t n = amqp_text(m.body()).size();
  if (n == 0 && !m.body().empty()) {
    std::vector<char> encoded;
    proton::message body_only;
    body_only.body(m.body());
    body_only.encode(encoded);
    n = encoded.size();
  }
  n += m.content_type().size() + m.content_encoding().size() + m.to().size() + m.user().size();
  if (!m.properties().empty()) {
    std::map<std::string, proton::scalar> props;
    proton::get(m.properties().value(), props);
    for (const auto& [k, v] : props) {
      n += k.size() + (v.type() == proton::STRING ? proton::get<std::string>(v).size()
                                                  : proton::to_string(v).size());
    }
  }
  return n;
}

}  // namespace

HubServer::HubServer(std::shared_ptr<const Registry> registry, HubEndpoints endpoints, Logger& log,
                     HubLimits limits)
    : endpoints_(std::move(endpoints)),
      log_(log),
      limits_(limits),
      registry_(std::move(registry)),
      telemetry_(limits.telemetry_retention),
      c2d_(
          limits.c2d,
          [this](const C2dMessage& m, C2dEnd how, const std::string& why) {
            on_c2d_end(m, how, why);
          },
          [this](const C2dMessage& m) {
            try {
              durable_->c2d_abandoned(m.device_id, m.sequence);
            } catch (const std::exception& e) {
              log_.error("hub",
                         e.what());  // the count is one lower after a restart; nothing is lost
            }
          }) {}

void HubServer::open_data_dir(const std::filesystem::path& dir, bool fsync) {
  std::size_t telemetry = 0, c2d = 0;
  DurableLog::Replay replay{
      [&](std::int64_t seq, proton::message m) {
        telemetry_.restore(seq, std::move(m));
        ++telemetry;
      },
      [&](const std::string& device, std::int64_t seq, std::int64_t expires, std::int64_t enqueued,
          proton::message m) {
        c2d_.restore(device, seq, expires, enqueued, std::move(m));
        ++c2d;
      },
      [&](const std::string& device, std::int64_t seq) { c2d_.restore_abandon(device, seq); },
      [&](const std::string& device, std::int64_t seq, const std::string&) {
        c2d_.restore_end(device, seq);
        --c2d;
      },
      [&](std::int64_t telemetry_next, std::int64_t c2d_next) {
        telemetry_.skip_to(telemetry_next);
        c2d_.skip_to(c2d_next);
      },
      [&](const std::string& device, const std::string& document) {
        twins_.restore(device, document);
      }};
  durable_ = std::make_unique<DurableLog>(dir, fsync, replay);
  durable_->compact([this](DurableLog& out) {
    twins_.for_each([&](const std::string& device, const std::string& document) {
      out.twin(device, document);
    });
    telemetry_.for_each([&](std::int64_t seq, const proton::message& m) { out.telemetry(seq, m); });
    c2d_.for_each([&](const C2dMessage& m) {
      out.c2d(m.device_id, m.sequence, m.expires_unix_ms, m.enqueued_ms, m.msg);
      for (int i = 0; i < m.delivery_count; ++i) out.c2d_abandoned(m.device_id, m.sequence);
    });
    // Last: replay restores the retained messages first, and their numbers run up to this.
    out.sequences(telemetry_.next_sequence(), c2d_.next_sequence());
  });
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
    c.close(proton::error_condition("amqp:resource-limit-exceeded", "too many connections"));
    return;
  }
  auto& state = connections_[c];
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
  std::erase_if(device_c2d_, [&](const auto& kv) { return kv.second.connection() == c; });
  std::erase_if(c2d_device_, [&](const auto& kv) { return kv.first.connection() == c; });
  std::erase_if(feedback_links_, [&](const proton::sender& s) { return s.connection() == c; });
  // Messages delivered on this connection and not settled stay locked until the lock runs out,
  // as on IoT Hub; the trackers themselves are gone.
  std::erase_if(outstanding_, [&](const auto& kv) { return kv.first.connection() == c; });
  operations_.connection_closed(c);
  connections_.erase(c);
}

void HubServer::refuse(proton::link& l, const std::string& why) {
  log_.info("hub", "refused link '" + l.name() + "': " + why);
  l.close(proton::error_condition(kUnauthorized, why));
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
      // Requests and answers come pre-settled, as Azure's SDKs attach these links.
      inbound_[r] = {node};
      r.open(proton::receiver_options().credit_window(kCredit));
      return;
    default:
      r.close(proton::error_condition("amqp:not-found",
                                      "no node '" + r.target().address() + "' to send to"));
      return;
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
      bind_c2d(node.device_id, s);
      pump_c2d(node.device_id);
      return;
    case Node::service_feedback:
      s.open();
      feedback_links_.insert(s);
      pump_feedback();
      return;
    case Node::device_twin:
      s.open(proton::sender_options().delivery_mode(proton::delivery_mode::AT_MOST_ONCE));
      operations_.twin_attached(node.device_id, s);
      return;
    case Node::device_methods:
      s.open(proton::sender_options().delivery_mode(proton::delivery_mode::AT_MOST_ONCE));
      operations_.methods_attached(node.device_id, s);
      return;
    default:
      s.close(proton::error_condition("amqp:not-found",
                                      "no node '" + s.source().address() + "' to receive from"));
  }
}

void HubServer::on_receiver_close(proton::receiver& r) {
  inbound_.erase(r);
}

void HubServer::on_sender_close(proton::sender& s) {
  operations_.link_closed(s);
  consumers_.erase(s);
  feedback_links_.erase(s);
  unbind_c2d(s);
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
    reject_with(d, "amqp:decode-error", std::string("cannot read the message: ") + e.what());
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
    service_c2d(d, m);
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

void HubServer::telemetry(const Node& node, proton::delivery& d, proton::message& m) {
  const std::size_t size = counted_size(m);
  if (size > limits_.max_d2c_bytes) {
    const std::string why = "message of " + std::to_string(size) + " bytes is over the " +
                            std::to_string(limits_.max_d2c_bytes) + "-byte limit";
    log_.info("hub", node.device_id + ": telemetry rejected: " + why);
    ++telemetry_rejected_;
    reject_with(d, "amqp:link:message-size-exceeded", why);
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
  try {
    durable_->telemetry(seq, m);  // before the device hears "accepted"
  } catch (const std::exception& e) {
    log_.error("hub", e.what());
    ++telemetry_rejected_;
    reject_with(d, "amqp:internal-error", "the hub could not store the message");
    return;
  }
  // Moved, not copied: a proton::message copies by encoding and decoding, which was a third of
  // the hub's time per message. Proton is done with it once on_message returns.
  telemetry_.append(std::move(m));
  d.accept();
  ++telemetry_accepted_;
  for (auto& [sender, consumer] : consumers_) {
    proton::sender s = sender;
    pump(s, consumer);
  }
}

void HubServer::on_sendable(proton::sender& s) {
  auto it = consumers_.find(s);
  if (it != consumers_.end()) pump(s, it->second);
  if (feedback_links_.count(s) != 0) pump_feedback();
  if (auto c2d = c2d_device_.find(s); c2d != c2d_device_.end()) pump_c2d(std::string(c2d->second));
}

void HubServer::bind_c2d(const std::string& device, const proton::sender& s) {
  if (auto old = device_c2d_.find(device); old != device_c2d_.end()) c2d_device_.erase(old->second);
  device_c2d_[device] = s;
  c2d_device_[s] = device;
}

void HubServer::unbind_c2d(const proton::sender& s) {
  auto it = c2d_device_.find(s);
  if (it == c2d_device_.end()) return;
  const std::string device = it->second;
  c2d_device_.erase(it);
  if (auto d = device_c2d_.find(device); d != device_c2d_.end() && d->second == s)
    device_c2d_.erase(d);
  // The device detached its link with messages it never settled (a release racing the detach
  // may have sent one out again): they are abandoned, not left locked, so the device's next
  // link gets them at once.
  bool abandoned = false;
  for (auto o = outstanding_.begin(); o != outstanding_.end();) {
    if (o->first.sender() == s) {
      c2d_.abandon(o->second.device, o->second.lock);
      o = outstanding_.erase(o);
      abandoned = true;
    } else {
      ++o;
    }
  }
  if (abandoned) pump_c2d(device);
}

void HubServer::pump(proton::sender& s, Consumer& c) {
  bool sent = false;
  while (s.active() && s.credit() > 0) {
    const proton::message* m = telemetry_.at_or_after(c.next);
    if (m == nullptr) break;
    s.send(*m);
    ++c.next;
    sent = true;
  }
  // The link may belong to another connection than the one whose event runs now: wake it, or
  // its frames wait for its next I/O.
  if (sent) s.connection().wake();
}

void HubServer::take_over(const std::string& device, const proton::connection& from) {
  // One connection per device, as IoT Hub: a new one takes the device's links over.
  auto close_if_other = [&](proton::link l) {
    if (l.connection() != from && l.active()) {
      l.close(proton::error_condition("amqp:link:stolen",
                                      "device '" + device + "' connected again elsewhere"));
      l.connection().wake();
    }
  };
  if (auto it = device_c2d_.find(device); it != device_c2d_.end()) {
    close_if_other(it->second);
    if (it->second.connection() != from) unbind_c2d(proton::sender(it->second));
  }
  for (auto& [r, in] : inbound_) {
    if (in.node.kind == Node::device_telemetry && in.node.device_id == device) close_if_other(r);
  }
}

void HubServer::service_c2d(proton::delivery& d, proton::message& m) {
  const Node to = parse_node(m.to());
  if (to.kind != Node::device_c2d) {
    reject_with(d, "amqp:invalid-field",
                "'to' must be /devices/{id}/messages/devicebound, not '" + m.to() + "'");
    return;
  }
  if (registry()->device(to.device_id) == nullptr) {
    reject_with(d, "amqp:not-found", "device '" + to.device_id + "' is not registered");
    return;
  }
  const std::size_t size = counted_size(m);
  if (size > limits_.max_c2d_bytes) {
    reject_with(d, "amqp:link:message-size-exceeded",
                "message of " + std::to_string(size) + " bytes is over the " +
                    std::to_string(limits_.max_c2d_bytes) + "-byte limit");
    return;
  }
  std::optional<std::chrono::milliseconds> ttl;
  if (m.ttl().milliseconds() > 0) {
    ttl = std::min(std::chrono::milliseconds(m.ttl().milliseconds()),
                   std::chrono::milliseconds(2LL * 86'400'000));
  }
  const C2dMessage* queued = c2d_.enqueue(to.device_id, m, ttl);
  if (queued == nullptr) {
    reject_with(d, "amqp:resource-limit-exceeded",
                "device '" + to.device_id + "' has " + std::to_string(c2d_.limits().max_pending) +
                    " messages pending");
    return;
  }
  try {
    durable_->c2d(to.device_id, queued->sequence, queued->expires_unix_ms, queued->enqueued_ms,
                  queued->msg);
  } catch (const std::exception& e) {
    log_.error("hub", e.what());
    c2d_.restore_end(to.device_id, queued->sequence);  // the sender hears it failed: so it did
    reject_with(d, "amqp:internal-error", "the hub could not store the message");
    return;
  }
  d.accept();
  pump_c2d(to.device_id);
}

void HubServer::pump_c2d(const std::string& device) {
  auto it = device_c2d_.find(device);
  if (it == device_c2d_.end()) return;
  proton::sender& s = it->second;
  while (s.active() && s.credit() > 0) {
    const C2dMessage* m = c2d_.lock_next(device);
    if (m == nullptr) return;
    proton::message out = m->msg;
    // The header says it too, as an AMQP 1.0 broker does: a client that does not know IoT Hub's
    // annotation still sees a redelivery.
    out.delivery_count(static_cast<std::uint32_t>(m->delivery_count));
    out.first_acquirer(m->delivery_count == 0);
    auto& ann = out.message_annotations();
    ann.put(proton::annotation_key(proton::symbol("x-opt-lock-token")), m->lock_token);
    ann.put(proton::annotation_key(proton::symbol("iothub-deliverycount")),
            static_cast<std::int32_t>(m->delivery_count));
    ann.put(proton::annotation_key(proton::symbol("x-opt-sequence-number")), m->sequence);
    ann.put(proton::annotation_key(proton::symbol("iothub-enqueuedtime")),
            proton::timestamp(m->enqueued_ms));
    outstanding_[s.send(out)] = {device, m->lock_token};
    s.connection().wake();
  }
}

void HubServer::on_tracker_accept(proton::tracker& t) {
  auto it = outstanding_.find(t);
  if (it == outstanding_.end()) return;
  c2d_.complete(it->second.device, it->second.lock);
  outstanding_.erase(it);
}

void HubServer::on_tracker_reject(proton::tracker& t) {
  auto it = outstanding_.find(t);
  if (it == outstanding_.end()) return;
  c2d_.reject(it->second.device, it->second.lock, "rejected by the device");
  outstanding_.erase(it);
}

void HubServer::on_tracker_release(proton::tracker& t) {
  auto it = outstanding_.find(t);
  if (it == outstanding_.end()) return;
  const std::string device = it->second.device;
  c2d_.abandon(device, it->second.lock);
  outstanding_.erase(it);
  pump_c2d(device);
}

void HubServer::on_c2d_end(const C2dMessage& m, C2dEnd how, const std::string& why) {
  try {
    durable_->c2d_ended(m.device_id, m.sequence, to_string(how));
  } catch (const std::exception& e) {
    log_.error("hub", e.what());  // after a restart the message would come once more
  }
  log_.info("hub", m.device_id + ": C2D message " + proton::to_string(m.msg.id()) +
                       " ended: " + to_string(how) + " (" + why + ")");
  const std::string ack = property(m.msg, "iothub-ack");
  const bool success = how == C2dEnd::success;
  ++(success ? c2d_completed_ : c2d_not_completed_);
  if (!(ack == "full" || (ack == "positive" && success) || (ack == "negative" && !success))) return;
  // Field order as IoT Hub writes a feedback record.
  std::string record = nlohmann::ordered_json{
      {"originalMessageId", proton::to_string(m.msg.id())},
      {"enqueuedTimeUtc", iso8601_utc(m.enqueued_ms)},
      {"statusCode", to_string(how)},
      {"description", why},
      {"deviceId",
       m.device_id}}.dump(-1, ' ', false, kJsonReplace);
  feedback_.push_back(std::move(record));
  if (feedback_.size() > limits_.max_feedback_records) feedback_.pop_front();
  pump_feedback();
}

void HubServer::pump_feedback() {
  if (feedback_.empty()) return;
  for (auto s : feedback_links_) {
    if (!s.active() || s.credit() <= 0) continue;
    std::string body = "[";
    for (std::size_t i = 0; i < feedback_.size(); ++i) body += (i != 0 ? "," : "") + feedback_[i];
    body += "]";
    proton::message m;
    m.content_type("application/vnd.microsoft.iothub.feedback.json");
    // In a data section, as IoT Hub sends it: Azure's Node service SDK reads no body (and so
    // no records) from an amqp-value section.
    set_data_body(m, body);
    s.send(m);
    s.connection().wake();
    feedback_.clear();
    return;
  }
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
    for (const auto& [device, s] : device_c2d_) {
      if (s.connection() == conn && gone.count(device) != 0) proton::sender(s).close(expired);
    }
    if (service_gone) {
      for (const auto& [s, c] : consumers_) {
        if (s.connection() == conn) proton::sender(s).close(expired);
      }
      for (const auto& s : feedback_links_) {
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
  for (const auto& device : c2d_.sweep()) pump_c2d(device);
  operations_.sweep(unix_millis());
  container_->schedule(proton::duration(250), [this] { sweep(); });
}

}  // namespace iotgw::hub
