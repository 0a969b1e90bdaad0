// What the admin endpoint may ask of the running gateway. The serving command implements it;
// the endpoint only speaks HTTP. Each asynchronous call answers through `done` exactly once,
// from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace iotgw::admin {

struct ReloadResult {
  bool ok = false;
  std::string summary;              // "listeners kept 1, added 0, removed 0", or why it failed
  std::vector<std::string> errors;  // file:line:col: text, one per error
};

class Controls {
 public:
  virtual ~Controls() = default;
  // The SIGHUP reload; a failed one leaves the old topology serving.
  virtual void reload(std::function<void(ReloadResult)> done) = 0;
  // Fail readiness, stop accepting, ask connections to leave at the configured rate. `done`
  // hears how many connections were asked.
  virtual void drain(std::function<void(std::size_t)> done) = 0;
  // The topology in force, plugins, listeners and bridge, as a JSON document.
  virtual void status(std::function<void(std::string)> done) = 0;
  // Empty when ready for devices; else why not. Cheap, any thread.
  virtual std::string not_ready() const = 0;
  // Empty when every event loop answered within its bound; else which did not. Blocks the
  // caller up to that bound.
  virtual std::string unhealthy() = 0;
};

}  // namespace iotgw::admin
