#include "bridge/device_claims.hpp"

#include <boost/asio/post.hpp>

#include "bridge/bridge.hpp"

namespace iotgw::bridge {

void DeviceClaims::claim(const std::string& device, boost::asio::io_context& loop,
                         const std::shared_ptr<DeviceChannel>& channel) {
  Holder older{};
  {
    std::lock_guard lock(mutex_);
    auto& h = holders_[device];
    older = h;
    h = {&loop, channel, channel.get()};
  }
  if (older.loop == nullptr || older.id == channel.get()) return;
  boost::asio::post(*older.loop, [weak = older.channel, device] {
    if (auto c = weak.lock())
      c->close(IOTGW_CLOSE_TAKEN_OVER, "a newer connection for " + device + " took over");
  });
}

void DeviceClaims::release(const std::string& device, const DeviceChannel* channel) {
  std::lock_guard lock(mutex_);
  auto it = holders_.find(device);
  if (it != holders_.end() && it->second.id == channel) holders_.erase(it);
}

}  // namespace iotgw::bridge
