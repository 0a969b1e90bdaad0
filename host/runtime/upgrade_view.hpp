// A connection's WebSocket upgrade request as the plugin ABI shows it (iotgw_http_upgrade): built
// once per connection, lent to the adapter in its conn info and to the auth stages in the
// credentials, and kept alive by whoever may still lend it (an authentication outliving its
// connection).
#pragma once

#include <memory>
#include <vector>

#include "iotgw/abi.h"
#include "transport/http_upgrade.hpp"

namespace iotgw::runtime {

class UpgradeView {
 public:
  explicit UpgradeView(std::shared_ptr<const transport::HttpUpgrade> upgrade);
  UpgradeView(const UpgradeView&) = delete;
  UpgradeView& operator=(const UpgradeView&) = delete;

  const iotgw_http_upgrade* c_view() const { return &view_; }

 private:
  std::shared_ptr<const transport::HttpUpgrade> upgrade_;  // what the views point into
  std::vector<iotgw_str> headers_;                         // name, value, name, value...
  iotgw_http_upgrade view_{};
};

}  // namespace iotgw::runtime
