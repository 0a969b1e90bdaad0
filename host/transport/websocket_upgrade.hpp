// Whether a ws or wss listener takes an HTTP upgrade request, and if not, which HTTP status and
// reason the client is refused with. No I/O: the stream reads the request and writes the answer.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>

namespace iotgw::transport {

// A listener's `websocket:` options (their defaults and ranges: config::WebSocketSpec).
struct WebSocketSettings {
  std::string path;  // compared with the request's path before '?'
  std::vector<std::string> subprotocols;
  std::vector<std::string> origins;  // empty: any Origin (or none)
  std::size_t max_upgrade_size = 0;
  std::chrono::milliseconds upgrade_timeout{};  // TLS handshake plus the upgrade
  std::size_t max_message = 0;
};

using UpgradeRequest = boost::beast::http::request<boost::beast::http::empty_body>;

struct UpgradeVerdict {
  boost::beast::http::status status = boost::beast::http::status::switching_protocols;
  std::string reason;       // why it was refused, for the response body and the log
  std::string subprotocol;  // the one to echo when accepted
  bool accepted() const { return status == boost::beast::http::status::switching_protocols; }
};

UpgradeVerdict check_upgrade(const UpgradeRequest& request, const WebSocketSettings& settings);

}  // namespace iotgw::transport
