// What every connection of one listener shares, whichever loop it runs on. The pipeline is
// swapped atomically on reload; a connection reads it afresh for every message.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "bridge/bridge.hpp"
#include "iotgw/common/log.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/plugin_instance.hpp"

namespace iotgw::runtime {

struct ListenerShared {
  std::string name;
  std::shared_ptr<AdapterInstance> adapter;
  std::atomic<std::shared_ptr<const Pipeline>> pipeline;
  bridge::Bridge& bridge;
  Logger& log;

  ListenerShared(std::string n, std::shared_ptr<AdapterInstance> a,
                 std::shared_ptr<const Pipeline> p, bridge::Bridge& b, Logger& l)
      : name(std::move(n)), adapter(std::move(a)), pipeline(std::move(p)), bridge(b), log(l) {}
};

}  // namespace iotgw::runtime
