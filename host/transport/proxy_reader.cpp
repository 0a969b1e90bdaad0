#include "transport/proxy_reader.hpp"

#include <memory>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

namespace iotgw::transport {

namespace {

struct Reading : std::enable_shared_from_this<Reading> {
  Reading(boost::asio::ip::tcp::socket s, ProxyDone d)
      : socket(std::move(s)), timer(socket.get_executor()), done(std::move(d)) {}

  void start(std::chrono::milliseconds timeout) {
    timer.expires_after(timeout);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;  // the header came first
      self->late = true;
      boost::system::error_code ignored;
      self->socket.close(ignored);  // fails the read, which reports it
    });
    bytes.resize(proxy::kFixedSize);
    boost::asio::async_read(socket, boost::asio::buffer(bytes),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        std::size_t) { self->on_fixed(ec); });
  }

  void on_fixed(const boost::system::error_code& ec) {
    if (ec) return fail(ec);
    auto size = proxy::header_size(bytes);
    if (auto* why = std::get_if<std::string>(&size)) return fail(*why);
    const auto whole = std::get<std::size_t>(size);
    bytes.resize(whole);
    auto rest = boost::asio::buffer(bytes.data() + proxy::kFixedSize, whole - proxy::kFixedSize);
    boost::asio::async_read(
        socket, rest, [self = shared_from_this()](const boost::system::error_code& e, std::size_t) {
          self->on_whole(e);
        });
  }

  void on_whole(const boost::system::error_code& ec) {
    if (ec) return fail(ec);
    timer.cancel();
    auto parsed = proxy::parse_header(bytes);
    if (auto* why = std::get_if<std::string>(&parsed)) return fail(*why);
    const auto& header = std::get<proxy::Header>(parsed);
    std::optional<ProxiedAddresses> addresses;
    if (!header.local) addresses = ProxiedAddresses{header.source, header.destination};
    done(std::move(socket), std::move(addresses), {});
  }

  void fail(const boost::system::error_code& ec) {
    fail(late ? std::string("no PROXY header in time") : "PROXY header: " + ec.message());
  }
  void fail(const std::string& why) {
    timer.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    done(std::move(socket), std::nullopt, why);
  }

  boost::asio::ip::tcp::socket socket;
  boost::asio::steady_timer timer;
  ProxyDone done;
  std::vector<std::uint8_t> bytes;
  bool late = false;
};

}  // namespace

void read_proxy_header(boost::asio::ip::tcp::socket socket, std::chrono::milliseconds timeout,
                       ProxyDone done) {
  std::make_shared<Reading>(std::move(socket), std::move(done))->start(timeout);
}

}  // namespace iotgw::transport
