#include "runtime/pipeline.hpp"

namespace iotgw::runtime {

namespace {

using Transform = iotgw_verdict (*)(void*, iotgw_msg*, iotgw_error*);

Verdict run(const StageRef& stage, Transform fn, iotgw_msg& msg) {
  if (fn == nullptr) return {};
  iotgw_error err{};
  const iotgw_verdict v = fn(stage.instance->handle(), &msg, &err);
  switch (v) {
    case IOTGW_CONTINUE: return {};
    case IOTGW_DROP: return {IOTGW_DROP, {}};
    case IOTGW_REJECT: break;
  }
  // Anything else a plugin returns is a refusal too: never let a bad value pass a message.
  return {IOTGW_REJECT, "stage '" + stage.name + "': " +
                            (err.message[0] != '\0' ? std::string(err.message) : "rejected")};
}

}  // namespace

Verdict Pipeline::upstream(iotgw_msg& msg) const {
  for (const auto& s : transforms_) {
    auto v = run(s, s.instance->vtable().upstream, msg);
    if (v.verdict != IOTGW_CONTINUE) return v;
  }
  return {};
}

Verdict Pipeline::downstream(iotgw_msg& msg) const {
  // Not std::views::reverse: clang 14 (the fuzz build) cannot compile libstdc++ 12's ranges.
  for (auto it = transforms_.rbegin(); it != transforms_.rend();
       ++it) {  // NOLINT(modernize-loop-convert)
    auto v = run(*it, it->instance->vtable().downstream, msg);
    if (v.verdict != IOTGW_CONTINUE) return v;
  }
  return {};
}

}  // namespace iotgw::runtime
