#include "runtime/pipeline.hpp"

#include <array>
#include <cstddef>

namespace iotgw::runtime {

namespace {

using Transform = iotgw_verdict (*)(void*, iotgw_msg*, iotgw_error*);

Verdict run(const StageRef& stage, Transform fn, iotgw_msg& msg, Direction direction) {
  if (fn == nullptr) return {};
  iotgw_error err{};
  const iotgw_verdict v = fn(stage.instance->handle(), &msg, &err);
  const bool up = direction == Direction::upstream;
  switch (v) {
    case IOTGW_CONTINUE: return {};
    case IOTGW_DROP:
      if (stage.metrics) (up ? stage.metrics->drops_up : stage.metrics->drops_down).inc();
      return {IOTGW_DROP, {}};
    case IOTGW_REJECT: break;
  }
  if (stage.metrics) (up ? stage.metrics->errors_up : stage.metrics->errors_down).inc();
  // Anything else a plugin returns is a refusal too: never let a bad value pass a message.
  return {IOTGW_REJECT, "stage '" + stage.name + "': " +
                            (err.message[0] != '\0' ? std::string(err.message) : "rejected")};
}

}  // namespace

Verdict Pipeline::upstream(iotgw_msg& msg) const {
  for (const auto& s : transforms_) {
    auto v = run(s, s.instance->vtable().upstream, msg, Direction::upstream);
    if (v.verdict != IOTGW_CONTINUE) return v;
  }
  return {};
}

Verdict Pipeline::downstream(iotgw_msg& msg) const {
  // Not std::views::reverse: clang 14 (the fuzz build) cannot compile libstdc++ 12's ranges.
  // NOLINTNEXTLINE(modernize-loop-convert)
  for (auto it = transforms_.rbegin(); it != transforms_.rend(); ++it) {
    auto v = run(*it, it->instance->vtable().downstream, msg, Direction::downstream);
    if (v.verdict != IOTGW_CONTINUE) return v;
  }
  return {};
}

}  // namespace iotgw::runtime

namespace iotgw::runtime {

std::optional<std::string> Pipeline::psk_key(std::string_view identity) const {
  for (const auto& stage : auth_) {
    const auto& vt = stage.instance->vtable();
    // A stage built before ABI 1.4 has a shorter table, or a zero where psk_key now sits.
    if (vt.struct_size < offsetof(iotgw_stage_vtable, psk_key) + sizeof vt.psk_key ||
        vt.psk_key == nullptr) {
      continue;
    }
    std::array<std::uint8_t, 256> key{};
    std::size_t size = key.size();
    if (vt.psk_key(stage.instance->handle(), {identity.data(), identity.size()}, key.data(),
                   &size) == IOTGW_OK &&
        size <= key.size()) {
      return std::string(reinterpret_cast<const char*>(key.data()), size);
    }
  }
  return std::nullopt;
}

}  // namespace iotgw::runtime
