#include "transport/websocket_upgrade.hpp"

#include <algorithm>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "iotgw/common/units.hpp"

namespace iotgw::transport {

namespace {

namespace http = boost::beast::http;

// Beast 1.74 speaks boost::string_view.
std::string_view view(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The first protocol of the client's comma-separated offer that the listener speaks.
std::string choose_subprotocol(std::string_view offer, const std::vector<std::string>& ours) {
  while (!offer.empty()) {
    const auto comma = offer.find(',');
    const auto token = trim(offer.substr(0, comma));
    if (std::find(ours.begin(), ours.end(), token) != ours.end()) return std::string(token);
    if (comma == std::string_view::npos) break;
    offer.remove_prefix(comma + 1);
  }
  return {};
}

UpgradeVerdict refuse(http::status status, std::string reason) {
  return {status, std::move(reason), {}};
}

}  // namespace

UpgradeVerdict check_upgrade(const UpgradeRequest& request, const WebSocketSettings& settings) {
  const std::string_view target = view(request.target());
  const auto path = target.substr(0, target.find('?'));
  if (path != settings.path) {
    return refuse(http::status::not_found,
                  "path '" + std::string(path) + "' is not " + settings.path);
  }
  if (!boost::beast::websocket::is_upgrade(request)) {
    return refuse(http::status::bad_request, "not a WebSocket upgrade request");
  }
  if (!settings.origins.empty()) {
    const std::string_view origin = view(request[http::field::origin]);
    const bool allowed =
        std::any_of(settings.origins.begin(), settings.origins.end(), [&](const std::string& o) {
          return boost::beast::iequals(o, boost::beast::string_view(origin.data(), origin.size()));
        });
    if (!allowed) {
      return refuse(http::status::forbidden,
                    origin.empty()
                        ? "no Origin header (allowed: " + join(settings.origins, ", ") + ")"
                        : "Origin '" + std::string(origin) +
                              "' is not allowed (allowed: " + join(settings.origins, ", ") + ")");
    }
  }
  const std::string_view offer = view(request[http::field::sec_websocket_protocol]);
  auto chosen = choose_subprotocol(offer, settings.subprotocols);
  if (chosen.empty()) {
    const auto ours = join(settings.subprotocols, ", ");
    return refuse(http::status::bad_request,
                  offer.empty() ? "Sec-WebSocket-Protocol must offer one of: " + ours
                                : "Sec-WebSocket-Protocol '" + std::string(offer) +
                                      "' offers none of: " + ours);
  }
  return {http::status::switching_protocols, {}, std::move(chosen)};
}

}  // namespace iotgw::transport
