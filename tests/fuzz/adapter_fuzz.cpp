// libFuzzer target: bytes from a device through the real host runtime (Connection, Session,
// pipeline, loopback bridge) into a real adapter (IOTGW_FUZZ_ADAPTER: line, mqtt) and the tag
// stage, loaded from their .so files. Only the socket is replaced, by memory. The first input
// byte chooses how the rest is cut into reads, so the fuzzer also explores packet boundaries
// falling anywhere.
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>

#include <boost/asio/io_context.hpp>

#include "bridge/loopback_bridge.hpp"
#include "loaded_plugins.hpp"
#include "memory_stream.hpp"
#include "runtime/listener_shared.hpp"
#include "runtime/session.hpp"
#include "transport/connection.hpp"

namespace {

using namespace iotgw;

// What every input shares: the loaded plugins and one listener's state. Built once, since
// loading a .so per input would measure dlopen, not the adapter.
struct Harness {
  fuzz::LoadedPlugins plugins{IOTGW_FUZZ_PLUGINS};
  bridge::LoopbackBridge bridge{true, plugins.log};
  metrics::Registry registry;
  std::shared_ptr<runtime::ListenerShared> shared;
  std::shared_ptr<const transport::ConnectionSettings> settings =
      std::make_shared<const transport::ConnectionSettings>(
          transport::ConnectionSettings{"fuzz", {}});

  Harness() {
    auto adapter = plugins.make<runtime::AdapterInstance>(IOTGW_FUZZ_ADAPTER, IOTGW_FUZZ_OPTIONS);
    auto tag = plugins.make<runtime::StageInstance>(
        "tag", "{mode: upper, direction: both, reject_if: '!'}");
    auto pipeline =
        std::make_shared<const runtime::Pipeline>(std::vector<runtime::StageRef>{{"door", tag}},
                                                  std::vector<runtime::StageRef>{{"shout", tag}});
    shared = std::make_shared<runtime::ListenerShared>("fuzz", adapter, pipeline, 1, bridge,
                                                       plugins.log, registry);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness harness;
  if (size == 0) return 0;
  const std::size_t cut = 1 + data[0] % 64;
  std::deque<std::string> chunks;
  for (std::size_t at = 1; at < size; at += cut) {
    chunks.emplace_back(reinterpret_cast<const char*>(data + at), std::min(cut, size - at));
  }
  boost::asio::io_context loop(1);
  auto conn = std::make_shared<transport::Connection>(
      loop, std::make_unique<fuzz::MemoryStream>(loop, std::move(chunks)), harness.plugins.log,
      harness.settings);
  conn->start(std::make_shared<runtime::Session>(harness.shared, 0), nullptr);
  loop.run();  // ends when the input is used up and the connection has closed
  return 0;
}
