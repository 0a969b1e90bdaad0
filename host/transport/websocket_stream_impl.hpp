// The WebSocket stream's code for any layer under it: a TCP socket (ws), TLS over one (wss), or
// memory (the fuzzer). Only websocket_stream.cpp and the fuzzer include this; everyone else
// makes streams with make_websocket_stream.
//
// Life of a connection: the upgrade timer starts; TLS handshakes (wss); the HTTP request is read
// within max_upgrade_size and checked (check_upgrade); a refusal is answered with its HTTP status
// before any frame and the socket lingers until the client has read it; an accepted one is
// answered 101 with the chosen subprotocol. Then binary messages are the byte stream and each
// write is one binary message. What outlives the Connection (a close handshake, a lingering
// refusal) holds the state through a shared Core, bounded in time by its timers.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "iotgw/common/log.hpp"
#include "transport/addressed_stream.hpp"
#include "transport/peer_certificate.hpp"
#include "transport/websocket_upgrade.hpp"

namespace iotgw::transport {

// How a WebSocket start or read ends when the cause is ours, worded for the connection's log.
enum class WebSocketError { refused = 1, text_message = 2, upgrade_timeout = 3 };
boost::system::error_code make_error_code(WebSocketError e);

namespace ws_detail {

template <class Next>
inline constexpr bool kTls = false;
template <class Socket>
inline constexpr bool kTls<boost::asio::ssl::stream<Socket>> = true;

// Stops sending, so the client reads our refusal to its end; a layer with no such call (memory)
// has nothing to flush.
template <class Lowest>
void stop_sending(Lowest& lowest) {
  if constexpr (requires { lowest.shutdown(boost::asio::ip::tcp::socket::shutdown_send); }) {
    boost::system::error_code ignored;
    lowest.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  }
}

// Closes the socket at the bottom, failing whatever waits on it.
template <class Lowest>
void close_socket(Lowest& lowest) {
  if constexpr (requires(boost::system::error_code & ec) { lowest.close(ec); }) {
    boost::system::error_code ignored;
    lowest.close(ignored);
  } else {
    lowest.close();
  }
}

}  // namespace ws_detail

template <class Next>
class WebSocketStream final : public AddressedStream {
 public:
  using Done = std::function<void(const boost::system::error_code&)>;

  // `keep_alive` is what the layers borrow (a TLS context); `args` construct the layer under the
  // WebSocket (a socket; a socket and that context).
  template <class... Args>
  WebSocketStream(std::shared_ptr<const WebSocketSettings> settings, Logger& log,
                  std::string component, std::string remote, std::string local,
                  std::shared_ptr<void> keep_alive, Args&&... args)
      : AddressedStream(std::move(remote), std::move(local)),
        core_(std::make_shared<Core>(std::move(keep_alive), std::forward<Args>(args)...)),
        settings_(std::move(settings)),
        log_(log),
        component_(std::move(component)) {}

  void async_start(Done done) override {
    auto core = core_;
    core->timer.expires_after(settings_->upgrade_timeout);
    core->timer.async_wait([core](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: the upgrade (or the refusal's linger) ended first
      core->timed_out = true;
      ws_detail::close_socket(boost::beast::get_lowest_layer(core->ws));
    });
    if constexpr (ws_detail::kTls<Next>) {
      core->ws.next_layer().async_handshake(
          boost::asio::ssl::stream_base::server,
          [this, done = std::move(done)](const boost::system::error_code& ec) mutable {
            if (ec) {
              finish_start(ec, done);
              return;
            }
            peer_ = verified_peer_certificate(core_->ws.next_layer().native_handle());
            read_request(std::move(done));
          });
    } else {
      read_request(std::move(done));
    }
  }

  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) override {
    core_->ws.async_read_some(
        buffer, [core = core_, handler = std::move(handler)](const boost::system::error_code& ec,
                                                             std::size_t n) mutable {
          if (ec == boost::beast::websocket::error::closed) {
            handler(boost::asio::error::eof, 0);  // the client's close: a clean end
          } else if (!ec && core->ws.got_text()) {
            refuse_text(core, std::move(handler));
          } else {
            handler(ec, n);
          }
        });
  }

  void async_write(boost::asio::const_buffer buffer, Handler handler) override {
    core_->ws.async_write(buffer, std::move(handler));
  }

  void close() override {
    auto core = core_;
    if (core->closing) return;
    core->closing = true;
    if (core->lingering) return;  // the refusal drains, then closes
    core->timer.cancel();
    if (!core->upgraded || !core->ws.is_open()) {
      ws_detail::close_socket(boost::beast::get_lowest_layer(core->ws));
      return;
    }
    // A close frame, so the client sees a normal closure; Beast bounds the handshake in time.
    core->ws.async_close(boost::beast::websocket::close_code::normal,
                         [core](const boost::system::error_code&) {
                           ws_detail::close_socket(boost::beast::get_lowest_layer(core->ws));
                         });
  }

  std::string_view transport() const override { return ws_detail::kTls<Next> ? "wss" : "ws"; }
  bool tls() const override { return ws_detail::kTls<Next>; }
  std::string cert_subject_cn() const override { return peer_.cn; }
  std::string cert_sha256() const override { return peer_.sha256; }
  std::shared_ptr<const HttpUpgrade> upgrade() const override { return upgrade_; }

 private:
  struct Core {
    template <class... Args>
    explicit Core(std::shared_ptr<void> keep, Args&&... args)
        : keep_alive(std::move(keep)), ws(std::forward<Args>(args)...), timer(ws.get_executor()) {}
    std::shared_ptr<void> keep_alive;  // first: outlives the layers that borrow it
    boost::beast::websocket::stream<Next> ws;
    boost::asio::steady_timer timer;  // the upgrade's deadline, which also bounds a refusal
    boost::beast::flat_buffer buffer;
    std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser;
    UpgradeRequest request;
    boost::beast::http::response<boost::beast::http::string_body> refusal;
    std::array<char, 512> drained{};
    bool timed_out = false;
    bool upgraded = false;
    bool closing = false;
    bool lingering = false;
  };

  void read_request(Done done) {
    auto& core = *core_;
    core.parser.emplace();
    core.parser->header_limit(static_cast<std::uint32_t>(settings_->max_upgrade_size));
    core.parser->body_limit(0);  // an upgrade has no body
    core.buffer.max_size(settings_->max_upgrade_size);
    boost::beast::http::async_read(
        core.ws.next_layer(), core.buffer, *core.parser,
        [this, done = std::move(done)](const boost::system::error_code& ec, std::size_t) mutable {
          on_request(ec, std::move(done));
        });
  }

  void on_request(const boost::system::error_code& ec, Done done) {
    namespace http = boost::beast::http;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      refuse(http::status::request_header_fields_too_large,
             "the upgrade request is larger than " + std::to_string(settings_->max_upgrade_size) +
                 " bytes",
             std::move(done));
      return;
    }
    // A request that is not HTTP is told so; a client that left (or timed out) is not.
    const bool malformed =
        ec && ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (malformed) {
      refuse(http::status::bad_request, "malformed HTTP request: " + ec.message(), std::move(done));
      return;
    }
    if (ec) {
      finish_start(ec, done);
      return;
    }
    core_->request = core_->parser->release();
    auto verdict = check_upgrade(core_->request, *settings_);
    if (!verdict.accepted()) {
      refuse(verdict.status, verdict.reason, std::move(done));
      return;
    }
    accept(std::move(verdict.subprotocol), std::move(done));
  }

  void accept(std::string subprotocol, Done done) {
    namespace websocket = boost::beast::websocket;
    auto upgrade = std::make_shared<HttpUpgrade>();
    upgrade->path = std::string(core_->request.target());
    upgrade->subprotocol = subprotocol;
    for (const auto& field : core_->request) {
      upgrade->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    auto& ws = core_->ws;
    ws.set_option(websocket::stream_base::decorator(
        [subprotocol = std::move(subprotocol)](websocket::response_type& res) {
          res.set(boost::beast::http::field::server, "iotgw");
          res.set(boost::beast::http::field::sec_websocket_protocol, subprotocol);
        }));
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = settings_->upgrade_timeout;  // the 101, and closing handshakes
    timeouts.idle_timeout = websocket::stream_base::none();   // the adapter keeps its own time
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    ws.read_message_max(settings_->max_message);
    ws.binary(true);
    // One frame per message: the adapter's writes are already whole protocol packets.
    ws.auto_fragment(false);
    ws.async_accept(core_->request, [this, upgrade = std::move(upgrade), done = std::move(done)](
                                        const boost::system::error_code& ec) mutable {
      if (!ec) {
        core_->upgraded = true;
        upgrade_ = std::move(upgrade);
      }
      finish_start(ec, done);
    });
  }

  // Answers with an HTTP error before any frame, then lingers so the client reads it.
  void refuse(boost::beast::http::status status, const std::string& reason, Done done) {
    namespace http = boost::beast::http;
    log_.warn(component_, "WebSocket upgrade from " + remote_address() + " refused (" +
                              std::to_string(static_cast<unsigned>(status)) + "): " + reason);
    auto core = core_;
    auto& res = core->refusal;
    res.version(11);
    res.result(status);
    res.set(http::field::server, "iotgw");
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(false);
    res.body() = reason + "\n";
    res.prepare_payload();
    http::async_write(core->ws.next_layer(), res,
                      [this, core, done = std::move(done)](const boost::system::error_code& ec,
                                                           std::size_t) mutable {
                        if (!ec && !core->closing) linger(core);
                        finish_start(make_error_code(WebSocketError::refused), done);
                      });
  }

  // Stops sending and reads what the client still sends, until it closes or the upgrade's
  // deadline: closing with unread input would reset the connection and lose our answer.
  static void linger(const std::shared_ptr<Core>& core) {
    core->lingering = true;
    ws_detail::stop_sending(boost::beast::get_lowest_layer(core->ws));
    drain(core);
  }
  static void drain(const std::shared_ptr<Core>& core) {
    boost::beast::get_lowest_layer(core->ws).async_read_some(
        boost::asio::buffer(core->drained),
        [core](const boost::system::error_code& ec, std::size_t) {
          if (!ec) {
            drain(core);
            return;
          }
          core->timer.cancel();
          ws_detail::close_socket(boost::beast::get_lowest_layer(core->ws));
        });
  }

  // MQTT over WebSockets is binary: a text message closes with 1003 (cannot accept this data).
  static void refuse_text(const std::shared_ptr<Core>& core, Handler handler) {
    const auto error = make_error_code(WebSocketError::text_message);
    if (core->closing) {
      handler(error, 0);
      return;
    }
    core->closing = true;
    core->ws.async_close(
        boost::beast::websocket::close_reason(boost::beast::websocket::close_code::unknown_data,
                                              "binary messages only"),
        [core, error, handler = std::move(handler)](const boost::system::error_code&) {
          ws_detail::close_socket(boost::beast::get_lowest_layer(core->ws));
          handler(error, 0);
        });
  }

  void finish_start(boost::system::error_code ec, Done& done) {
    if (core_->timed_out) ec = make_error_code(WebSocketError::upgrade_timeout);
    if (!core_->lingering) core_->timer.cancel();
    done(ec);
  }

  std::shared_ptr<Core> core_;
  std::shared_ptr<const WebSocketSettings> settings_;
  Logger& log_;
  std::string component_;
  PeerCertificate peer_;
  std::shared_ptr<const HttpUpgrade> upgrade_;
};

extern template class WebSocketStream<boost::asio::ip::tcp::socket>;
extern template class WebSocketStream<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

}  // namespace iotgw::transport
