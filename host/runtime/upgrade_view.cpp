#include "runtime/upgrade_view.hpp"

#include <cstddef>

#include "iotgw/plugin.hpp"

namespace iotgw::runtime {

// The 1.3 fields took the first reserved slots: the structs keep their 1.2 size.
static_assert(sizeof(iotgw_credentials) ==
              offsetof(iotgw_credentials, upgrade) + 4 * sizeof(void*));
static_assert(sizeof(iotgw_conn_info) == offsetof(iotgw_conn_info, upgrade) + 4 * sizeof(void*));

UpgradeView::UpgradeView(std::shared_ptr<const transport::HttpUpgrade> upgrade)
    : upgrade_(std::move(upgrade)) {
  headers_.reserve(upgrade_->headers.size() * 2);
  for (const auto& [name, value] : upgrade_->headers) {
    headers_.push_back(to_c(name));
    headers_.push_back(to_c(value));
  }
  view_.struct_size = sizeof view_;
  view_.path = to_c(upgrade_->path);
  view_.subprotocol = to_c(upgrade_->subprotocol);
  view_.headers = headers_.data();
  view_.header_count = upgrade_->headers.size();
}

}  // namespace iotgw::runtime
