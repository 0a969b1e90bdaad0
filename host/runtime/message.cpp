#include "runtime/message.hpp"

#include <algorithm>

namespace iotgw::runtime {

const std::string* PropertyList::get(std::string_view key) const {
  for (const auto& [k, v] : items_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void PropertyList::set(std::string_view key, std::string_view value) {
  for (auto& [k, v] : items_) {
    if (k == key) {
      v.assign(value);
      return;
    }
  }
  items_.emplace_back(std::string(key), std::string(value));
}

bool PropertyList::remove(std::string_view key) {
  auto it =
      std::find_if(items_.begin(), items_.end(), [&](const auto& kv) { return kv.first == key; });
  if (it == items_.end()) return false;
  items_.erase(it);
  return true;
}

}  // namespace iotgw::runtime
