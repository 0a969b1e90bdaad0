#include "app/service_manager.hpp"

#include <ctime>

#ifdef IOTGW_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace iotgw::app {

namespace {

void notify([[maybe_unused]] const std::string& state) {
#ifdef IOTGW_HAVE_SYSTEMD
  sd_notify(0, state.c_str());
#endif
}

}  // namespace

void ServiceManager::ready(const std::string& status) {
  notify("READY=1\nSTATUS=" + status);
}

void ServiceManager::reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1000;
  notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceManager::stopping() {
  notify("STOPPING=1");
}

void ServiceManager::watchdog() {
  notify("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> ServiceManager::watchdog_interval() const {
#ifdef IOTGW_HAVE_SYSTEMD
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    return std::chrono::microseconds(usec / 2);
  }
#endif
  return std::nullopt;
}

}  // namespace iotgw::app
