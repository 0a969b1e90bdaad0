// Flavour `loopback`: no hub. Accepts every message and, with `echo`, hands it straight back to
// the device that sent it as a downstream message. For development, demos and host tests: it
// exercises both pipeline directions and the settle path without a network.
#pragma once

#include "bridge/bridge.hpp"

namespace iotgw::bridge {

class LoopbackBridge final : public Bridge {
 public:
  LoopbackBridge(bool echo, Logger& log) : echo_(echo), log_(log) {}
  std::unique_ptr<BridgeDevice> attach(boost::asio::io_context& loop, const Identity& identity,
                                       std::weak_ptr<DeviceChannel> channel) override;
  std::string describe() const override { return echo_ ? "loopback (echo)" : "loopback"; }

 private:
  bool echo_;
  Logger& log_;
};

}  // namespace iotgw::bridge
