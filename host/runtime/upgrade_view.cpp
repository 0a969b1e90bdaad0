#include "runtime/upgrade_view.hpp"

#include <cstddef>

#include "iotgw/plugin.hpp"

namespace iotgw::runtime {

// The 1.3 fields took the first reserved slots, so the structs kept their 1.2 size up to the
// last reserved slot; 1.4 grew them past it (psk_identity), which struct_size tells readers.
static_assert(offsetof(iotgw_credentials, psk_identity) ==
              offsetof(iotgw_credentials, upgrade) + 4 * sizeof(void*));
static_assert(offsetof(iotgw_conn_info, psk_identity) ==
              offsetof(iotgw_conn_info, upgrade) + 4 * sizeof(void*));

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
