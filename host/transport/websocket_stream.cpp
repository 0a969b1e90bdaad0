#include "transport/websocket_stream.hpp"

#include "transport/tcp_stream.hpp"
#include "transport/websocket_stream_impl.hpp"

namespace iotgw::transport {

namespace {

// Boost.System's category has a protected, non-virtual destructor by design (categories are
// never deleted through the base); GCC warns about any class derived from it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class WebSocketCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "websocket"; }
  std::string message(int ev) const override {
    switch (static_cast<WebSocketError>(ev)) {
      case WebSocketError::refused: return "upgrade refused";
      case WebSocketError::text_message:
        return "a text message (MQTT over WebSockets is binary): closed with 1003";
      case WebSocketError::upgrade_timeout: return "the upgrade did not complete in time";
    }
    return "websocket error " + std::to_string(ev);
  }
};
#pragma GCC diagnostic pop

}  // namespace

boost::system::error_code make_error_code(WebSocketError e) {
  static const WebSocketCategory category;
  return {static_cast<int>(e), category};
}

template class WebSocketStream<boost::asio::ip::tcp::socket>;
template class WebSocketStream<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

std::unique_ptr<Stream> make_websocket_stream(boost::asio::ip::tcp::socket socket,
                                              std::shared_ptr<boost::asio::ssl::context> tls,
                                              std::shared_ptr<const WebSocketSettings> settings,
                                              Logger& log, std::string component) {
  boost::system::error_code ec;
  auto remote = format_endpoint(socket.remote_endpoint(ec));
  auto local = format_endpoint(socket.local_endpoint(ec));
  socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  if (!tls) {
    return std::make_unique<WebSocketStream<boost::asio::ip::tcp::socket>>(
        std::move(settings), log, std::move(component), std::move(remote), std::move(local),
        nullptr, std::move(socket));
  }
  auto& ctx = *tls;
  return std::make_unique<WebSocketStream<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>>(
      std::move(settings), log, std::move(component), std::move(remote), std::move(local),
      std::move(tls), std::move(socket), ctx);
}

}  // namespace iotgw::transport
