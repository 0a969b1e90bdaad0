// libFuzzer target: bytes from a client through the server side of a ws listener: the real
// WebSocketStream (the HTTP upgrade's parse and checks, the refusal, then Beast's frame parsing,
// masking, control frames, close and the 1003 rule) over Beast's in-memory test stream in place
// of the socket. Payload read from binary messages is echoed back as binary messages, as an
// adapter's answers would be. The first input byte sets how many bytes each read gets, so
// frame and header boundaries fall anywhere.
#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include "transport/websocket_stream_impl.hpp"

namespace {

using namespace iotgw;
using Server = transport::WebSocketStream<boost::beast::test::stream>;

std::shared_ptr<const transport::WebSocketSettings> settings() {
  auto s = std::make_shared<transport::WebSocketSettings>();
  s->path = "/$iothub/websocket";
  s->subprotocols = {"mqtt"};
  s->max_upgrade_size = 2048;
  // Every deadline of the stream (the upgrade, a lingering refusal, a close handshake) is this
  // one, and inputs that end with the stream waiting for it are common. At 5 s the fuzzer was
  // asleep nearly all the time (40 s of CPU in 17 minutes), at 100 ms still two thirds of it.
  // The in-memory streams hand a whole input over in about a millisecond; one that takes longer
  // under a sanitizer meets the deadline mid-input, a path worth fuzzing too.
  s->upgrade_timeout = std::chrono::milliseconds(10);
  s->max_message = 4096;
  return s;
}

// Reads until the stream fails, echoing what it read.
void echo(Server& server, std::array<std::uint8_t, 1024>& buffer) {
  server.async_read_some(boost::asio::buffer(buffer),
                         [&server, &buffer](const boost::system::error_code& ec, std::size_t n) {
                           if (ec) {
                             server.close();
                             return;
                           }
                           if (n > 0) {
                             server.async_write(
                                 boost::asio::buffer(buffer.data(), n),
                                 [](const boost::system::error_code&, std::size_t) {});
                           }
                           echo(server, buffer);
                         });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  Logger log(LogLevel::error);
  boost::asio::io_context loop;
  boost::beast::test::stream server_end(loop);
  boost::beast::test::stream client(loop);
  server_end.connect(client);
  // 0: each read takes what is there; else at most that many bytes.
  const std::size_t step = data[0] % 64;
  server_end.read_size(step == 0 ? 4096 : step);
  client.write_some(boost::asio::buffer(data + 1, size - 1));
  client.close();  // the server reads the input, then the end of it
  Server server(settings(), log, "fuzz", "fuzz:1", "fuzz:2", nullptr, std::move(server_end));
  std::array<std::uint8_t, 1024> buffer{};
  server.async_start([&](const boost::system::error_code& ec) {
    if (ec) {
      server.close();
      return;
    }
    echo(server, buffer);
  });
  loop.run();
  return 0;
}
