// Flavour `iothub`: Azure IoT Hub, or iotgw-hub. Every loop keeps its own pool of hub
// connections (at most 995 devices each, as IoT Hub allows tokens); each device gets its own
// CBS token: the one it presented (passed through), or one minted from a gateway-held policy key
// (identity translation).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "bridge/bridge.hpp"
#include "bridge/hub_connection.hpp"

namespace iotgw::bridge {

struct IotHubSettings {
  HubTarget target;
  std::string policy;      // with policy_key: mint device tokens from it
  std::string policy_key;  // base64
  std::chrono::seconds token_ttl{3600};
};

class IotHubBridge final : public Bridge {
 public:
  IotHubBridge(IotHubSettings settings, Logger& log) : settings_(std::move(settings)), log_(log) {}
  std::unique_ptr<BridgeDevice> attach(boost::asio::io_context& loop, const Identity& identity,
                                       std::weak_ptr<DeviceChannel> channel) override;
  std::string describe() const override;
  std::string status() const override;

 private:
  std::shared_ptr<HubConnection> connection_for(boost::asio::io_context& loop);
  std::string token_for(const Identity& identity, std::int64_t& expiry) const;

  IotHubSettings settings_;
  Logger& log_;
  mutable std::mutex pools_mutex_;  // taken at attach only, never per message
  std::map<boost::asio::io_context*, std::vector<std::shared_ptr<HubConnection>>> pools_;
};

}  // namespace iotgw::bridge
