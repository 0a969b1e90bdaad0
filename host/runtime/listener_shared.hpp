// What every connection of one listener shares, whichever loop it runs on. Each event loop has
// its own slot for the pipeline, read only by that loop's connections (afresh for every
// message) and written only on that loop, so the hot path takes no lock and no atomic.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bridge/bridge.hpp"
#include "iotgw/common/log.hpp"
#include "runtime/device_rate.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/plugin_instance.hpp"
#include "runtime/runtime_metrics.hpp"

namespace iotgw::runtime {

struct ListenerShared {
  std::string name;
  std::shared_ptr<AdapterInstance> adapter;
  std::vector<std::shared_ptr<const Pipeline>> pipelines;  // by loop index
  bridge::Bridge& bridge;
  Logger& log;
  ListenerMetrics metrics;
  DeviceRateLimits rates;  // each device's, from the listener's spec

  ListenerShared(std::string n, std::shared_ptr<AdapterInstance> a,
                 const std::shared_ptr<const Pipeline>& p, std::size_t loops, bridge::Bridge& b,
                 Logger& l, metrics::Registry& registry, DeviceRateLimits r = {})
      : name(std::move(n)),
        adapter(std::move(a)),
        pipelines(loops, p),
        bridge(b),
        log(l),
        metrics(registry, name),
        rates(r) {}
};

}  // namespace iotgw::runtime
