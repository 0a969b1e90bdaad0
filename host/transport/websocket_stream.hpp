// WebSocket under a connection (transport ws, and wss with TLS under the WebSocket): the HTTP
// upgrade in async_start, checked against the listener's settings and refused with a proper
// HTTP status; then binary messages carry the adapter's byte stream both ways.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "iotgw/common/log.hpp"
#include "transport/stream.hpp"
#include "transport/websocket_upgrade.hpp"

namespace iotgw::transport {

// `tls` set: wss, with the same context a tls listener would use; null: ws. Refusals are logged
// at warn under `component`.
std::unique_ptr<Stream> make_websocket_stream(boost::asio::ip::tcp::socket socket,
                                              std::shared_ptr<boost::asio::ssl::context> tls,
                                              std::shared_ptr<const WebSocketSettings> settings,
                                              Logger& log, std::string component);

}  // namespace iotgw::transport
