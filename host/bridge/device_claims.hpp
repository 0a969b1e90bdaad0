// One connection per device id across the whole gateway, as IoT Hub has it: a device that
// connects again (through any listener, on any loop) takes over, and its older connection is
// closed on its own loop. Any thread; the lock is taken at login and logout only.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>

namespace iotgw::bridge {

class DeviceChannel;

class DeviceClaims {
 public:
  // `channel` now holds `device`; an older holder is told to close.
  void claim(const std::string& device, boost::asio::io_context& loop,
             const std::shared_ptr<DeviceChannel>& channel);
  // Called by a holder that ends; a newer holder's claim stays.
  void release(const std::string& device, const DeviceChannel* channel);

 private:
  struct Holder {
    boost::asio::io_context* loop;
    std::weak_ptr<DeviceChannel> channel;
    const DeviceChannel* id;
  };
  std::mutex mutex_;
  std::map<std::string, Holder> holders_;
};

}  // namespace iotgw::bridge
