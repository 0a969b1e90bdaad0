// The host's message: what an iotgw_msg handle points at. Owned by the host at every step; plugins
// reach it only through the api's msg_* functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "iotgw/abi.h"

namespace iotgw::runtime {

// Few properties per message, read in order: a vector beats a map here.
class PropertyList {
 public:
  const std::string* get(std::string_view key) const;
  void set(std::string_view key, std::string_view value);
  bool remove(std::string_view key);
  void clear() { items_.clear(); }
  std::size_t size() const { return items_.size(); }
  const std::pair<std::string, std::string>& at(std::size_t i) const { return items_[i]; }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace iotgw::runtime

struct iotgw_msg {
  std::vector<std::uint8_t> body;
  std::array<iotgw::runtime::PropertyList, 3> properties;  // by iotgw_prop_scope
  std::string device_id;
  std::vector<std::uint8_t> scratch;  // msg_reserve_body's room until msg_commit_body

  iotgw::runtime::PropertyList& scope(iotgw_prop_scope s) {
    return properties.at(static_cast<std::size_t>(s));
  }
  const iotgw::runtime::PropertyList& scope(iotgw_prop_scope s) const {
    return properties.at(static_cast<std::size_t>(s));
  }
};
