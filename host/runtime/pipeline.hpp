// The stages one listener runs: authenticators at connect, transforms on every message
// (upstream in order, downstream in reverse, like Envoy's read and write filters). Immutable;
// a reload swaps the whole Pipeline, and messages already in flight finish on the old one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/message.hpp"
#include "runtime/plugin_instance.hpp"
#include "runtime/runtime_metrics.hpp"

namespace iotgw::runtime {

struct StageRef {
  std::string name;
  std::shared_ptr<StageInstance> instance;
  std::shared_ptr<const StageMetrics> metrics;  // null where nobody counts (unit tests)
};

struct Verdict {
  iotgw_verdict verdict = IOTGW_CONTINUE;
  std::string reason;  // "stage 'name': why", when rejected
};

class Pipeline {
 public:
  Pipeline(std::vector<StageRef> auth, std::vector<StageRef> transforms)
      : auth_(std::move(auth)), transforms_(std::move(transforms)) {}

  Verdict upstream(iotgw_msg& msg) const;
  Verdict downstream(iotgw_msg& msg) const;
  const std::vector<StageRef>& authenticators() const { return auth_; }
  // The DTLS pre-shared key the first authenticator that knows `identity` gives, or nullopt.
  std::optional<std::string> psk_key(std::string_view identity) const;
  const std::vector<StageRef>& transforms() const { return transforms_; }

 private:
  std::vector<StageRef> auth_;
  std::vector<StageRef> transforms_;
};

}  // namespace iotgw::runtime
