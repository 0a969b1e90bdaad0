#include "iotgw/common/repeat_limiter.hpp"

namespace iotgw {

std::uint64_t RepeatLimiter::kind_of(std::string_view component, std::string_view message) {
  // FNV-1a: cheap, no allocation, and collisions between two kinds only merge their counts.
  std::uint64_t h = 14695981039346656037ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  for (const char c : component) mix(static_cast<unsigned char>(c));
  mix(0xff);  // not in any text: "ab"+"c" and "a"+"bc" stay apart
  for (const char c : message) {
    if (c < '0' || c > '9') mix(static_cast<unsigned char>(c));
  }
  return h;
}

bool RepeatLimiter::admit(std::uint64_t kind, int level, std::string_view component,
                          std::string_view message, TimePoint now,
                          std::vector<SuppressedLines>& ended) {
  if (limit_.lines == 0) return true;
  if (now >= next_sweep_) sweep(now, ended);
  auto it = windows_.find(kind);
  if (it != windows_.end() && now - it->second.start >= limit_.window) {
    if (it->second.held.count > 0) ended.push_back(std::move(it->second.held));
    windows_.erase(it);
    it = windows_.end();
  }
  if (it == windows_.end()) {
    if (windows_.size() >= limit_.max_kinds) return true;
    Window w{now, 0, {level, std::string(component), std::string(message), 0}};
    it = windows_.emplace(kind, std::move(w)).first;
  }
  Window& w = it->second;
  if (++w.seen <= limit_.lines) return true;
  ++w.held.count;
  return false;
}

void RepeatLimiter::sweep(TimePoint now, std::vector<SuppressedLines>& ended) {
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (now - it->second.start < limit_.window) {
      ++it;
      continue;
    }
    if (it->second.held.count > 0) ended.push_back(std::move(it->second.held));
    it = windows_.erase(it);
  }
  next_sweep_ = now + limit_.window;
}

std::vector<SuppressedLines> RepeatLimiter::drain() {
  std::vector<SuppressedLines> held;
  for (auto& [kind, w] : windows_) {
    if (w.held.count > 0) held.push_back(std::move(w.held));
  }
  windows_.clear();
  return held;
}

}  // namespace iotgw
