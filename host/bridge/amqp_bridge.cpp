#include "bridge/amqp_bridge.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>

#include "bridge/loopback_bridge.hpp"
#include "bridge/message_codec.hpp"
#include "iotgw/common/sas_token.hpp"

namespace iotgw::bridge {

namespace {

class HubDevice final : public BridgeDevice {
 public:
  HubDevice(std::shared_ptr<HubConnection> conn, std::string id, std::uint64_t attachment)
      : conn_(std::move(conn)), id_(std::move(id)), attachment_(attachment) {}
  ~HubDevice() override { conn_->remove_device(id_, attachment_); }

  void send(std::unique_ptr<iotgw_msg> msg, iotgw_qos qos, Completion done) override {
    auto m = conn_->spare_message();
    to_amqp(*msg, m);
    conn_->send(id_, attachment_, std::move(m), qos == IOTGW_QOS_AT_LEAST_ONCE, std::move(done));
  }
  void set_downstream(bool enabled) override { conn_->set_downstream(id_, attachment_, enabled); }
  void settle(std::uint64_t delivery, iotgw_outcome outcome, std::string_view) override {
    conn_->settle(id_, attachment_, delivery, outcome);
  }
  void request(Operation op, OperationDone done) override {
    conn_->request(id_, attachment_, std::move(op), std::move(done));
  }
  bool respond(std::uint64_t id, int status, std::string body) override {
    return conn_->respond(id_, attachment_, id, status, body);
  }

 private:
  std::shared_ptr<HubConnection> conn_;
  std::string id_;
  std::uint64_t attachment_;
};

}  // namespace

void AmqpBridge::retire(Pools& pools, boost::asio::io_context& loop, HubConnection& idle) {
  std::shared_ptr<HubConnection> gone;  // alive until stop() returns
  {
    std::lock_guard lock(pools.mutex);
    auto& pool = pools.by_loop[&loop];
    if (pool.empty() || pool.front().get() == &idle) return;
    auto it =
        std::find_if(pool.begin(), pool.end(), [&](const auto& c) { return c.get() == &idle; });
    if (it == pool.end()) return;
    gone = *it;
    pool.erase(it);
  }
  gone->stop();
}

AmqpBridge::AmqpBridge(AmqpBridgeSettings settings, Logger& log)
    : settings_(std::move(settings)),
      log_(log),
      mint_{settings_.policy, settings_.policy_key, settings_.token_ttl},
      device_mint_(std::make_shared<const HubConnection::MintFn>(
          [mint = mint_, hub = settings_.target.hostname](const std::string& device,
                                                          std::int64_t& until) {
            return mint(hub + "/devices/" + sas::url_encode(device), until);
          })) {
  auto& t = settings_.target;
  if (!settings_.plain_from_policy) return;
  // PLAIN with the policy itself, as the service SDKs log in: user {policy}@sas.root.{hub name},
  // a fresh token as the password at every connect.
  t.user = settings_.policy + "@sas.root." + t.hostname.substr(0, t.hostname.find('.'));
  t.password = [mint = mint_, audience = t.hostname] {
    std::int64_t expiry = 0;
    return mint(audience, expiry);
  };
}

std::string AmqpBridge::describe() const {
  const auto& t = settings_.target;
  return settings_.flavour + (t.tls ? " amqps://" : " amqp://") + t.host + ":" + t.port +
         (t.hostname.empty() ? "" : " (" + t.hostname + ")") +
         (t.user.empty() ? "" : " as " + t.user);
}

BridgeStats AmqpBridge::stats() const {
  BridgeStats total;
  std::lock_guard lock(pools_->mutex);
  for (const auto& [loop, pool] : pools_->by_loop) {
    for (const auto& c : pool) {
      const auto s = c->stats();
      ++total.connections;
      total.up += s.up ? 1 : 0;
      total.devices += s.devices;
      total.in_flight += s.in_flight;
      total.queued += s.queued;
      total.held += s.held;
      total.reconnects += s.reconnects;
      total.tokens_renewed += s.tokens_renewed;
      if (!s.last_error.empty()) total.last_error = s.last_error;
    }
  }
  return total;
}

std::string AmqpBridge::status() const {
  const auto s = stats();
  return describe() + ": " + std::to_string(s.connections) + " hub connection(s) (" +
         std::to_string(s.up) + " up), " + std::to_string(s.devices) + " device(s), " +
         std::to_string(s.in_flight) + " in flight, " + std::to_string(s.queued) + " queued, " +
         std::to_string(s.held) + " device(s) held, " + std::to_string(s.reconnects) +
         " reconnect(s), last error: " + (s.last_error.empty() ? "none" : s.last_error);
}

void AmqpBridge::warm_up(const std::vector<boost::asio::io_context*>& loops) {
  if (loops.empty()) return;
  auto* loop = loops.front();
  boost::asio::post(*loop, [this, loop, rest = std::vector(loops.begin() + 1, loops.end())] {
    connection_for(*loop);
    warm_up(rest);
  });
}

std::string TokenMint::operator()(const std::string& audience, std::int64_t& expiry) const {
  expiry = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch() + ttl)
               .count();
  return sas::make(audience, key, expiry, policy);
}

std::shared_ptr<HubConnection> AmqpBridge::connection_for(boost::asio::io_context& loop) {
  std::lock_guard lock(pools_->mutex);
  auto& pool = pools_->by_loop[&loop];
  for (auto& c : pool) {
    if (c->devices() < HubConnection::kMaxDevices) return c;
  }
  auto c = std::make_shared<HubConnection>(loop, settings_.target, log_);
  pool.push_back(c);
  c->start([weak = std::weak_ptr<Pools>(pools_), loop = &loop](HubConnection& idle) {
    if (auto pools = weak.lock()) retire(*pools, *loop, idle);
  });
  return c;
}

std::unique_ptr<Bridge> make_bridge(const config::BridgeSpec& spec, Logger& log) {
  if (spec.flavour != "iothub" && spec.flavour != "amqp") {
    return std::make_unique<LoopbackBridge>(spec.echo, log);
  }
  AmqpBridgeSettings s;
  s.flavour = spec.flavour;
  auto& t = s.target;
  t.host = spec.host;
  t.port = spec.port;
  t.hostname = spec.hostname;
  t.tls = spec.tls;
  t.ca_file = spec.ca_file;
  if (spec.sasl == "plain" && !spec.user.empty()) {
    t.user = spec.user;
    t.password = [password = spec.password] { return password; };
  }
  t.cbs = spec.flavour == "iothub";
  t.address_from_message = spec.flavour == "amqp";
  t.telemetry_address = spec.telemetry_address;
  t.c2d_address = spec.c2d_address;
  t.idle_close = spec.idle_close;
  t.attach_timeout = spec.attach_timeout;
  t.idle_timeout = spec.idle_timeout;
  t.durable = spec.durable;
  s.policy = spec.policy;
  s.plain_from_policy = spec.sasl == "plain" && spec.user.empty();
  s.policy_key = spec.policy_key;
  s.token_ttl = std::chrono::duration_cast<std::chrono::seconds>(spec.token_ttl);
  return std::make_unique<AmqpBridge>(std::move(s), log);
}

std::unique_ptr<BridgeDevice> AmqpBridge::attach(boost::asio::io_context& loop,
                                                 const Identity& identity,
                                                 std::weak_ptr<DeviceChannel> channel) {
  auto conn = connection_for(loop);
  HubConnection::Minter mint;
  std::int64_t expiry = 0;
  std::string token;
  if (settings_.target.cbs && identity.hub_token.empty() && !settings_.policy.empty()) {
    // Identity translation: the gateway mints the device's token, and renews it.
    mint = device_mint_;
    token = (*mint)(identity.device_id, expiry);
  } else if (settings_.target.cbs && identity.hub_token.empty()) {
    boost::asio::post(loop, [channel] {
      if (auto ch = channel.lock()) {
        ch->close(IOTGW_CLOSE_HUB_REFUSED,
                  "no token for the hub: the device presented none and the bridge has no policy "
                  "to mint one");
      }
    });
  } else if (settings_.target.cbs) {
    token = identity.hub_token;
    std::string why;
    if (auto t = sas::parse(token, why)) expiry = t->expiry;
  }
  const auto attachment = conn->add_device(identity.device_id, std::move(token), expiry,
                                           std::move(mint), std::move(channel));
  return std::make_unique<HubDevice>(std::move(conn), identity.device_id, attachment);
}

}  // namespace iotgw::bridge
