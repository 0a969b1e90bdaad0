// The HTTP request a ws or wss connection was upgraded with, as the listener accepted it: what
// auth stages and adapters are shown of it (through the plugin ABI's iotgw_http_upgrade).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace iotgw::transport {

struct HttpUpgrade {
  std::string path;         // the request target, query included
  std::string subprotocol;  // the one chosen from the client's offer and echoed
  std::vector<std::pair<std::string, std::string>> headers;  // as sent, in order
};

}  // namespace iotgw::transport
