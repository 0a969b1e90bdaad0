#include "bridge/hub_connection.hpp"

#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <boost/asio/post.hpp>
#include <proton/annotation_key.hpp>
#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/source.hpp>
#include <proton/ssl.hpp>
#include <proton/symbol.hpp>
#include <proton/target.hpp>
#include <proton/transport.hpp>

#include "iotgw/common/clock.hpp"

namespace iotgw::bridge {

namespace {

// CBS puts awaiting the hub's reply, per connection: enough to keep a round trip full
// (puts are small, the hub answers each in microseconds), few enough that a device given up on
// leaves little stale work at the hub.
constexpr std::size_t kCbsWindow = 64;

// When a token the gateway minted is renewed: at 80% of its life; 0 (never) for one that has
// already run out.
std::int64_t renewal_time(std::int64_t now, std::int64_t expiry) {
  return expiry > now ? now + (expiry - now) * 4 / 5 : 0;
}

// The reason a hub gave with its `rejected`: Proton C++ 0.37 does not expose it, its C API does.
struct RawTracker : proton::tracker {
  explicit RawTracker(const proton::tracker& t) : proton::tracker(t) {}
  pn_delivery_t* raw() const { return pn_object(); }
};

std::string remote_reason(const proton::tracker& t) {
  pn_condition_t* c = pn_disposition_condition(pn_delivery_remote(RawTracker(t).raw()));
  if (c == nullptr || !pn_condition_is_set(c)) return "rejected by the hub";
  const char* desc = pn_condition_get_description(c);
  return std::string(pn_condition_get_name(c)) + (desc != nullptr ? std::string(": ") + desc : "");
}

}  // namespace

HubConnection::HubConnection(boost::asio::io_context& loop, HubTarget target, Logger& log)
    : loop_(loop),
      target_(std::move(target)),
      log_(log),
      transport_(loop, target_.host, target_.port, log,
                 {.options = [this] { return connection_options(); },
                  .lost = [this](const std::string& why) { lost(why); },
                  .pumped = [this] { publish_stats(); },
                  .tls_lock = target_.tls ? target_.tls_lock : nullptr}),
      tick_timer_(loop),
      idle_timer_(loop),
      c2d_(
          {.address = target_.c2d_address, .iothub = target_.cbs, .durable = target_.durable},
          [this](const std::string& id, std::unique_ptr<iotgw_msg> msg, std::uint64_t n) {
            return deliver(id, std::move(msg), n);
          },
          [this](const std::string& id, const std::string& why) {
            log_.warn("bridge", id + ": " + why);
          }),
      twin_(
          "/devices/{deviceId}/twin",
          [this](const std::string& id, const HubRequest& patch) { hub_request(id, patch); },
          [this](const std::string& id, const std::string& what) {
            log_.warn("bridge", id + ": " + what);
          }),
      methods_(
          "/devices/{deviceId}/methods/devicebound",
          [this](const std::string& id, const HubRequest& call) { hub_request(id, call); },
          [this](const std::string& id, const std::string& what) {
            log_.warn("bridge", id + ": " + what);
          }),
      outboxes_({.iothub = target_.cbs, .durable = target_.durable},
                {.may_attach =
                     [this](const std::string& id) {
                       auto d = devices_.find(id);
                       return d != devices_.end() && d->second.authorized;
                     },
                 .counted = [this](const std::string& id, bool joined) { counted(id, joined); },
                 .link_closed =
                     [this](const std::string& id, const std::string& why) {
                       auto d = devices_.find(id);
                       if (d == devices_.end()) return;
                       d->second.authorized = false;
                       if (auto ch = d->second.channel.lock())
                         ch->close(IOTGW_CLOSE_HUB_REFUSED, why);
                     },
                 .warn = [this](const std::string& what) { log_.warn("bridge", what); }}) {}

HubConnection::~HubConnection() = default;

void HubConnection::start(IdleHandler on_idle) {
  on_idle_ = std::move(on_idle);
  transport_.start(weak_from_this());
  tick_devices();
}

void HubConnection::stop() {
  tick_timer_.cancel();
  idle_timer_.cancel();
  transport_.stop();
}

void HubConnection::tick_devices() {
  const auto now = unix_seconds();
  const auto now_ms = unix_millis();
  std::string last_error;
  {
    std::lock_guard lock(error_mutex_);
    last_error = last_error_;
  }
  twin_.expire(now_ms);
  methods_.expire(now_ms);
  for (auto& [id, d] : devices_) {
    if (!d.reported && now_ms >= d.attach_deadline_ms) {
      report(d, IOTGW_ERR_UNAVAILABLE,
             "the hub did not take the device in time" +
                 (last_error.empty() ? std::string() : ": " + last_error));
    }
    if (!d.mint || d.renew_at == 0 || now < d.renew_at) continue;
    d.token = (*d.mint)(id, d.expiry);
    d.renew_at = now + (d.expiry - now) * 4 / 5;
    tokens_renewed_.fetch_add(1, std::memory_order_relaxed);
    if (transport_.is_open()) put_token(id);  // the grant goes on; links stay attached
  }
  transport_.pump();
  tick_timer_.expires_after(std::chrono::seconds(1));
  tick_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick_devices();
  });
}

void HubConnection::report(Device& d, iotgw_status status, const std::string& reason) {
  if (d.reported) return;
  d.reported = true;
  // Posted: never inside the call that attached the device.
  boost::asio::post(loop_, [channel = d.channel, status, reason] {
    if (auto ch = channel.lock()) ch->attached(status, reason);
  });
}

proton::connection_options HubConnection::connection_options() {
  const auto& t = target_;
  proton::connection_options opts;
  opts.handler(*this);
  opts.idle_timeout(proton::duration(t.idle_timeout.count()));
  if (!t.hostname.empty()) opts.virtual_host(t.hostname);
  if (t.user.empty()) {
    opts.sasl_allowed_mechs("ANONYMOUS");
  } else {
    opts.sasl_allowed_mechs("PLAIN")
        .user(t.user)
        .password(t.password ? t.password() : std::string())
        .sasl_allow_insecure_mechs(!t.tls);  // over plain TCP only if asked for
  }
  if (t.tls) {
    opts.ssl_client_options(t.ca_file.empty() ? proton::ssl_client_options()
                                              : proton::ssl_client_options(t.ca_file));
  }
  return opts;
}

HubConnection::Stats HubConnection::stats() const {
  std::lock_guard lock(error_mutex_);
  return {up_.load(),
          device_count_.load(),
          in_flight_count_.load(),
          queued_count_.load(),
          held_count_.load(),
          reconnects_.load(),
          tokens_renewed_.load(std::memory_order_relaxed),
          last_error_};
}

void HubConnection::publish_stats() {
  up_ = transport_.is_open();
  device_count_ = devices_.size();
  in_flight_count_ = outboxes_.in_flight();
  queued_count_ = queued_;
  held_count_ = held_;
}

void HubConnection::lost(const std::string& why) {
  ++reconnects_;
  {
    std::lock_guard lock(error_mutex_);
    last_error_ = why;
  }
  outboxes_.connection_lost();
  for (auto& [id, d] : devices_) d.authorized = false;
  c2d_.reset();  // the hub releases what was not settled: it delivers it again
  twin_.reset();
  methods_.reset();
  cbs_.reset();
  puts_waiting_.clear();  // every device's token is put again when the connection is back
  for (auto& [id, d] : devices_) d.put_waiting = false;
  publish_stats();
}

void HubConnection::on_connection_open(proton::connection& c) {
  log_.info("bridge", "connected to the hub at " + transport_.endpoint());
  transport_.opened();
  if (target_.cbs) {
    cbs_.open(c);
    for (auto& [id, d] : devices_) put_token(id);
    return;
  }
  for (auto& [id, d] : devices_) authorized(id, d);
  outboxes_.open_all(c);
}

void HubConnection::on_error(const proton::error_condition& e) {
  transport_.set_close_reason(e.what());
  log_.warn("bridge", "AMQP error: " + e.what());
}

void HubConnection::on_transport_error(proton::transport& t) {
  transport_.set_close_reason(t.error().what());
  if (transport_.is_open() && !transport_.stopped())
    log_.warn("bridge", "hub transport error: " + t.error().what());
}

void HubConnection::on_transport_close(proton::transport&) {
  if (transport_.stopped()) log_.info("bridge", "idle hub connection closed");
}

void HubConnection::put_token(const std::string& id) {
  auto it = devices_.find(id);
  if (it == devices_.end() || !cbs_.is_open()) return;
  if (cbs_.waiting() < kCbsWindow) return send_put(id, it->second);
  if (it->second.put_waiting) return;
  it->second.put_waiting = true;
  puts_waiting_.push_back(id);
}

void HubConnection::send_put(const std::string& id, Device& d) {
  d.put_waiting = false;
  if (d.token.empty() && d.mint) {  // dropped once the hub took it (on_cbs_reply)
    const auto now = unix_seconds();
    d.token = (*d.mint)(id, d.expiry);
    d.renew_at = renewal_time(now, d.expiry);
  }
  cbs_.put_token(target_.hostname + "/devices/" + id, d.token,
                 [this, id](const CbsLink::Reply& reply) {
                   on_cbs_reply(id, reply);
                   put_waiting();
                 });
}

void HubConnection::put_waiting() {
  while (cbs_.is_open() && cbs_.waiting() < kCbsWindow && !puts_waiting_.empty()) {
    const std::string id = std::move(puts_waiting_.front());
    puts_waiting_.pop_front();
    auto it = devices_.find(id);
    // Gone (given up on, or disconnected while it waited), or put already: skipped.
    if (it == devices_.end() || !it->second.put_waiting) continue;
    send_put(id, it->second);
  }
}

std::uint64_t HubConnection::add_device(const std::string& id, std::string token,
                                        std::int64_t expiry, Minter mint,
                                        std::weak_ptr<DeviceChannel> channel) {
  idle_timer_.cancel();
  if (auto old = devices_.find(id); old != devices_.end()) {
    // One connection per device: the newer one takes over, as IoT Hub itself does.
    auto older = old->second.channel.lock();
    remove_device(id, old->second.attachment);
    if (older) older->close(IOTGW_CLOSE_TAKEN_OVER, "a newer connection for " + id + " took over");
  }
  auto& d = devices_[id];
  d.attachment = next_attachment_++;
  d.attach_deadline_ms = unix_millis() + target_.attach_timeout.count();
  d.token = std::move(token);
  d.expiry = expiry;
  d.mint = std::move(mint);
  const auto now = unix_seconds();
  d.renew_at = d.mint ? renewal_time(now, expiry) : 0;
  d.channel = std::move(channel);
  const auto attachment = d.attachment;
  if (!transport_.is_open()) return attachment;
  if (target_.cbs) {
    put_token(id);
  } else {
    authorized(id, d);
  }
  transport_.pump();
  return attachment;
}

HubConnection::Device* HubConnection::attached(const std::string& id, std::uint64_t attachment) {
  auto it = devices_.find(id);
  return it != devices_.end() && it->second.attachment == attachment ? &it->second : nullptr;
}

void HubConnection::authorized(const std::string& id, Device& d) {
  d.authorized = true;
  report(d, IOTGW_OK, {});
  outboxes_.open_device(upstream(), id);
  if (d.want_c2d) open_c2d(id, d);
  twin_.restore(upstream(), id, unix_millis());
  methods_.restore(upstream(), id);
}

void HubConnection::remove_device(const std::string& id, std::uint64_t attachment) {
  auto it = devices_.find(id);
  if (it == devices_.end() || it->second.attachment != attachment) return;
  auto& d = it->second;
  c2d_.remove(id);
  twin_.remove(id);
  methods_.remove(id);
  // Counted out first: the outboxes answer its messages "released", which may call back here.
  queued_ -= d.queued;
  held_ -= d.held ? 1 : 0;
  devices_.erase(it);
  outboxes_.remove_device(id);
  transport_.pump();
  if (devices_.empty() && on_idle_) {
    idle_timer_.expires_after(target_.idle_close);
    idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->check_idle();
    });
  }
}

void HubConnection::check_idle() {
  if (devices_.empty() && !transport_.stopped() && on_idle_) on_idle_(*this);
}

std::string HubConnection::address_of(const std::string& id, const proton::message& msg) const {
  if (target_.address_from_message && !msg.to().empty()) return msg.to();
  return expand_address(target_.telemetry_address, id);
}

proton::connection HubConnection::upstream() {
  return transport_.is_open() ? transport_.connection() : proton::connection();
}

void HubConnection::counted(const std::string& id, bool joined) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;  // gone: its leftovers were counted out with it
  auto& d = it->second;
  if (joined) {
    ++queued_;
    if (++d.queued < kHoldAt || d.held) return;
    d.held = true;
    ++held_;
    if (auto ch = d.channel.lock()) ch->upstream_ready(false);
    return;
  }
  --queued_;
  --d.queued;
  if (!d.held || d.queued > kHoldAt / 2) return;
  d.held = false;
  --held_;
  if (auto ch = d.channel.lock()) ch->upstream_ready(true);
}

void HubConnection::send(const std::string& id, std::uint64_t attachment, proton::message msg,
                         bool confirmed, Completion done) {
  if (attached(id, attachment) == nullptr) {
    if (done) boost::asio::post(loop_, [done] { done(IOTGW_RELEASED, "device not attached"); });
    return;
  }
  const std::string address = address_of(id, msg);
  if (!target_.cbs) {
    // A broker knows the connection, not the device: say whose message it is, as IoT Hub does.
    if (msg.to().empty()) msg.to(address);
    msg.message_annotations().put(
        proton::annotation_key(proton::symbol("iothub-connection-device-id")), id);
  }
  outboxes_.send(upstream(), id, address, std::move(msg), confirmed, std::move(done));
  transport_.schedule_pump();
}

void HubConnection::open_c2d(const std::string& id, const Device& d) {
  if (d.authorized) c2d_.open(upstream(), id);
}

bool HubConnection::deliver(const std::string& id, std::unique_ptr<iotgw_msg> msg,
                            std::uint64_t delivery) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return false;
  auto ch = it->second.channel.lock();
  if (!ch) return false;
  ch->deliver(std::move(msg), delivery);
  return true;
}

void HubConnection::set_downstream(const std::string& id, std::uint64_t attachment, bool enabled) {
  Device* dev = attached(id, attachment);
  if (dev == nullptr) return;
  auto& d = *dev;
  d.want_c2d = enabled;
  if (enabled) {
    open_c2d(id, d);
  } else {
    c2d_.close(id);  // what the hub still holds stays there
  }
  transport_.pump();
}

void HubConnection::request(const std::string& id, std::uint64_t attachment, Operation op,
                            OperationDone done) {
  // The answer is posted, so it never arrives inside the adapter's own call.
  auto answer = [loop = &loop_, done = std::move(done)](OperationResult r) {
    boost::asio::post(*loop, [done, r = std::move(r)]() mutable { done(std::move(r)); });
  };
  Device* d = attached(id, attachment);
  if (!target_.cbs) {
    answer(OperationResult::local(kStatusUnavailable,
                                  "the bridge's hub is a plain AMQP broker: it has no twin or "
                                  "methods"));
    return;
  }
  if (d == nullptr || !d->authorized) {
    answer(OperationResult::local(kStatusUnavailable, "the hub has not taken the device (yet)"));
    return;
  }
  const auto now = unix_millis();
  switch (op.kind) {
    case IOTGW_OP_METHODS_ENABLE:
      methods_.enable(upstream(), id, op.timeout, now, std::move(answer));
      break;
    case IOTGW_OP_METHODS_DISABLE:
      methods_.disable(id);
      answer({200, -1, {}, {}});
      break;
    default: twin_.request(upstream(), id, op, now, std::move(answer)); break;
  }
  transport_.schedule_pump();
}

bool HubConnection::respond(const std::string& id, std::uint64_t attachment, std::uint64_t call,
                            int status, const std::string& body) {
  if (attached(id, attachment) == nullptr) return false;
  const bool ok = methods_.respond(id, call, status, body);
  if (ok) transport_.schedule_pump();
  return ok;
}

void HubConnection::hub_request(const std::string& id, const HubRequest& request) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  if (auto ch = it->second.channel.lock()) ch->hub_request(request);
}

void HubConnection::settle(const std::string& id, std::uint64_t attachment, std::uint64_t delivery,
                           iotgw_outcome outcome) {
  if (attached(id, attachment) == nullptr) return;
  c2d_.settle(id, delivery, outcome);
  transport_.schedule_pump();
}

void HubConnection::on_cbs_reply(const std::string& id, const CbsLink::Reply& reply) {
  auto it = devices_.find(id);
  if (it == devices_.end()) return;
  auto& d = it->second;
  if (!reply.ok()) {
    const std::string why = "the hub refused the device's token: " + std::to_string(reply.status) +
                            " " + reply.description;
    log_.warn("bridge", id + ": " + why);
    // Its queue is answered when the session ends and the device is removed.
    if (!d.reported) {
      report(d, IOTGW_ERR_REFUSED, why);
    } else if (auto ch = d.channel.lock()) {
      ch->close(IOTGW_CLOSE_HUB_REFUSED, why);
    }
    return;
  }
  if (d.mint) std::string().swap(d.token);  // a fresh one is minted when needed again
  if (d.authorized) return;                 // a renewed token: the links it covers stay as they are
  authorized(id, d);
}

void HubConnection::on_message(proton::delivery& dl, proton::message& m) {
  try {
    if (cbs_.on_message(dl, m) || c2d_.on_message(dl, m) || twin_.on_message(dl, m) ||
        methods_.on_message(dl, m)) {
      return;
    }
  } catch (const proton::conversion_error& e) {
    // Proton's typed maps throw on property values of other types than IoT Hub sends: one
    // such message from a broken or hostile back end is refused, not the end of the bridge.
    log_.warn("bridge", std::string("a message from the hub with unreadable properties: ") +
                            e.what() + " (rejected)");
    if (!dl.settled()) dl.reject();
    return;
  }
  dl.release();  // on a link that no longer serves anything
}

void HubConnection::on_sendable(proton::sender& s) {
  outboxes_.on_sendable(s);
}

void HubConnection::on_tracker_accept(proton::tracker& t) {
  outboxes_.on_outcome(t, IOTGW_ACCEPTED, {});
}
void HubConnection::on_tracker_reject(proton::tracker& t) {
  outboxes_.on_outcome(t, IOTGW_REJECTED, remote_reason(t));
}
void HubConnection::on_tracker_release(proton::tracker& t) {  // released or modified
  if (t.state() == proton::transfer::MODIFIED) {
    outboxes_.on_outcome(t, IOTGW_MODIFIED, "modified by the hub: delivery failed");
  } else {
    outboxes_.on_outcome(t, IOTGW_RELEASED, "released by the hub");
  }
}

void HubConnection::check_taken_over(const proton::link& l, const std::string& address) {
  if (l.error().name() != "amqp:link:stolen") return;
  static constexpr std::string_view kDevices = "/devices/";
  const auto at = address.find(kDevices);
  if (at == std::string::npos) return;
  const auto from = at + kDevices.size();
  const auto id = address.substr(from, address.find('/', from) - from);
  auto d = devices_.find(id);
  if (d == devices_.end() || !d->second.authorized) return;
  d->second.authorized = false;  // nothing attaches for it again
  const std::string why =
      "taken over: the device connected again elsewhere (" + l.error().description() + ")";
  log_.info("bridge", id + ": " + why);
  if (auto ch = d->second.channel.lock()) ch->close(IOTGW_CLOSE_TAKEN_OVER, why);
}

void HubConnection::on_sender_close(proton::sender& s) {
  check_taken_over(s, s.target().address());
  if (twin_.on_link_close(s) || methods_.on_link_close(s)) return;
  outboxes_.on_sender_close(s);
}

void HubConnection::on_session_error(proton::session& s) {
  outboxes_.on_session_error(s, s.error().what());
  c2d_.on_session_error(s);
}

void HubConnection::on_receiver_close(proton::receiver& r) {
  check_taken_over(r, r.source().address());
  if (twin_.on_link_close(r) || methods_.on_link_close(r)) return;
  c2d_.on_receiver_close(r);
}

void HubConnection::on_sender_open(proton::sender& s) {
  methods_.on_sender_open(s);
}

}  // namespace iotgw::bridge
