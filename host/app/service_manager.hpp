// Telling systemd (Type=notify) where the gateway is: ready, reloading, stopping, and alive
// (WatchdogSec). Through libsystemd's sd_notify when built with it; without it, or when not
// started by systemd (no NOTIFY_SOCKET), every call does nothing.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace iotgw::app {

class ServiceManager {
 public:
  void ready(const std::string& status);
  // RELOADING=1 with MONOTONIC_USEC, as systemd's Type=notify-reload wants; ready() ends it.
  void reloading();
  void stopping();
  void watchdog();
  // How often to call watchdog(): half of WatchdogSec, or nothing when no watchdog is set.
  std::optional<std::chrono::microseconds> watchdog_interval() const;
};

}  // namespace iotgw::app
