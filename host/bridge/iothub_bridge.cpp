#include "bridge/iothub_bridge.hpp"

#include <boost/asio/post.hpp>

#include "bridge/loopback_bridge.hpp"
#include "bridge/message_codec.hpp"
#include "iotgw/common/sas_token.hpp"

namespace iotgw::bridge {

namespace {

class HubDevice final : public BridgeDevice {
 public:
  HubDevice(std::shared_ptr<HubConnection> conn, std::string id)
      : conn_(std::move(conn)), id_(std::move(id)) {}
  ~HubDevice() override { conn_->remove_device(id_); }

  void send(std::unique_ptr<iotgw_msg> msg, iotgw_qos qos, Completion done) override {
    conn_->send(id_, to_amqp(*msg), qos == IOTGW_QOS_AT_LEAST_ONCE, std::move(done));
  }
  void set_downstream(bool enabled) override { conn_->set_downstream(id_, enabled); }
  void settle(std::uint64_t delivery, iotgw_outcome outcome, std::string_view) override {
    conn_->settle(id_, delivery, outcome);
  }

 private:
  std::shared_ptr<HubConnection> conn_;
  std::string id_;
};

}  // namespace

std::string IotHubBridge::describe() const {
  return "iothub " + settings_.target.host + ":" + settings_.target.port + " (" +
         settings_.target.hostname + ")";
}

std::string IotHubBridge::status() const {
  std::size_t connections = 0, up = 0, devices = 0, in_flight = 0;
  unsigned reconnects = 0;
  std::string last_error;
  {
    std::lock_guard lock(pools_mutex_);
    for (const auto& [loop, pool] : pools_) {
      for (const auto& c : pool) {
        const auto s = c->stats();
        ++connections;
        up += s.up ? 1 : 0;
        devices += s.devices;
        in_flight += s.in_flight;
        reconnects += s.reconnects;
        if (!s.last_error.empty()) last_error = s.last_error;
      }
    }
  }
  return describe() + ": " + std::to_string(connections) + " hub connection(s) (" +
         std::to_string(up) + " up), " + std::to_string(devices) + " device(s), " +
         std::to_string(in_flight) + " in flight, " + std::to_string(reconnects) +
         " reconnect(s), last error: " + (last_error.empty() ? "none" : last_error);
}

std::string IotHubBridge::token_for(const Identity& identity, std::int64_t& expiry) const {
  expiry = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch() + settings_.token_ttl)
               .count();
  return sas::make(settings_.target.hostname + "/devices/" + sas::url_encode(identity.device_id),
                   settings_.policy_key, expiry, settings_.policy);
}

std::shared_ptr<HubConnection> IotHubBridge::connection_for(boost::asio::io_context& loop) {
  std::lock_guard lock(pools_mutex_);
  auto& pool = pools_[&loop];
  for (auto& c : pool) {
    if (c->devices() < HubConnection::kMaxDevices) return c;
  }
  auto c = std::make_shared<HubConnection>(loop, settings_.target, log_);
  pool.push_back(c);
  c->start();
  return c;
}

std::unique_ptr<Bridge> make_bridge(const config::BridgeSpec& spec, Logger& log) {
  if (spec.flavour == "iothub") {
    IotHubSettings s;
    s.target = {spec.host, spec.port, spec.hostname};
    s.policy = spec.policy;
    s.policy_key = spec.policy_key;
    s.token_ttl = std::chrono::duration_cast<std::chrono::seconds>(spec.token_ttl);
    return std::make_unique<IotHubBridge>(std::move(s), log);
  }
  return std::make_unique<LoopbackBridge>(spec.echo, log);
}

std::unique_ptr<BridgeDevice> IotHubBridge::attach(boost::asio::io_context& loop,
                                                   const Identity& identity,
                                                   std::weak_ptr<DeviceChannel> channel) {
  auto conn = connection_for(loop);
  HubConnection::Minter mint;
  std::int64_t expiry = 0;
  std::string token;
  if (identity.hub_token.empty()) {
    // Identity translation: the gateway mints the device's token, and renews it.
    mint = [this](const std::string& device, std::int64_t& until) {
      Identity id;
      id.device_id = device;
      return token_for(id, until);
    };
    token = mint(identity.device_id, expiry);
  } else {
    token = identity.hub_token;
    std::string why;
    if (auto t = sas::parse(token, why)) expiry = t->expiry;
  }
  conn->add_device(identity.device_id, std::move(token), expiry, std::move(mint),
                   std::move(channel));
  return std::make_unique<HubDevice>(std::move(conn), identity.device_id);
}

}  // namespace iotgw::bridge
