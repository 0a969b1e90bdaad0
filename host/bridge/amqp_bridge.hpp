// Flavours `iothub` (Azure IoT Hub, or iotgw-hub) and `amqp` (any AMQP 1.0 broker). Every loop
// keeps its own pool of hub connections, at most 995 devices each (as IoT Hub allows tokens).
// With iothub each device gets its own CBS token: the one it presented (passed through), or one
// minted from a gateway-held policy key (identity translation). With amqp the connection's own
// login covers every device.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "bridge/bridge.hpp"
#include "bridge/hub_connection.hpp"

namespace iotgw::bridge {

struct AmqpBridgeSettings {
  std::string flavour;  // iothub or amqp
  HubTarget target;
  std::string policy;      // with policy_key: mint device tokens from it
  std::string policy_key;  // base64
  std::chrono::seconds token_ttl{3600};
  bool plain_from_policy = false;  // SASL PLAIN as the policy, the password minted per connect
};

// Makes SAS tokens from the gateway's policy key. Held by value wherever tokens are made, since
// hub connections may outlive the bridge that made them.
struct TokenMint {
  std::string policy, key;
  std::chrono::seconds ttl;
  std::string operator()(const std::string& audience, std::int64_t& expiry) const;
};

class AmqpBridge final : public Bridge {
 public:
  AmqpBridge(AmqpBridgeSettings settings, Logger& log);
  std::unique_ptr<BridgeDevice> attach(boost::asio::io_context& loop, const Identity& identity,
                                       std::weak_ptr<DeviceChannel> channel) override;
  std::string describe() const override;
  std::string status() const override;
  BridgeStats stats() const override;
  void warm_up(const std::vector<boost::asio::io_context*>& loops) override;

 private:
  // Shared with the connections' idle handlers, which may outlive the bridge.
  struct Pools {
    mutable std::mutex mutex;  // taken at attach and idle close only, never per message
    std::map<boost::asio::io_context*, std::vector<std::shared_ptr<HubConnection>>> by_loop;
  };
  // An idle connection leaves its pool and closes, unless it is the loop's first: the next
  // device finds that one open. Runs on `loop`, the only thread that changes that loop's pool.
  static void retire(Pools& pools, boost::asio::io_context& loop, HubConnection& idle);
  std::shared_ptr<HubConnection> connection_for(boost::asio::io_context& loop);

  AmqpBridgeSettings settings_;
  Logger& log_;
  TokenMint mint_;
  HubConnection::Minter device_mint_;  // devices' tokens from the policy, shared by all of them
  std::shared_ptr<Pools> pools_ = std::make_shared<Pools>();
};

}  // namespace iotgw::bridge
