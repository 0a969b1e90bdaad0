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
#include "memory_stream.hpp"
#include "plugins/catalog.hpp"
#include "plugins/plugin_config.hpp"
#include "runtime/listener_shared.hpp"
#include "runtime/session.hpp"
#include "transport/connection.hpp"

namespace {

using namespace iotgw;

// What every input shares: the loaded plugins and one listener's state. Built once, since
// loading a .so per input would measure dlopen, not the adapter.
struct Harness {
  Logger log{LogLevel::error};
  plugins::PrivateCopies copies;
  plugins::Catalog catalog;
  bridge::LoopbackBridge bridge{true, log};
  metrics::Registry registry;
  std::shared_ptr<runtime::ListenerShared> shared;

  Harness() {
    std::vector<plugins::LoadError> errors;
    catalog = plugins::Catalog::scan(IOTGW_FUZZ_PLUGINS, copies, errors);
    if (!errors.empty()) abort_with(errors.front().str());
    auto adapter = make<runtime::AdapterInstance>(IOTGW_FUZZ_ADAPTER, IOTGW_FUZZ_OPTIONS);
    auto tag =
        make<runtime::StageInstance>("tag", "{mode: upper, direction: both, reject_if: '!'}");
    auto pipeline =
        std::make_shared<const runtime::Pipeline>(std::vector<runtime::StageRef>{{"door", tag}},
                                                  std::vector<runtime::StageRef>{{"shout", tag}});
    shared = std::make_shared<runtime::ListenerShared>("fuzz", adapter, pipeline, 1, bridge, log,
                                                       registry);
  }

  template <class Instance>
  std::shared_ptr<Instance> make(const char* plugin_name, const char* yaml) {
    auto plugin = catalog.find(plugin_name);
    if (!plugin) abort_with(std::string("no plugin ") + plugin_name + " in " IOTGW_FUZZ_PLUGINS);
    config::Diagnostics diags;
    auto cfg = plugins::PluginConfig::resolve(plugin->keys(), {YAML::Load(yaml), {}}, "fuzz",
                                              "fuzz", diags);
    if (!cfg) abort_with(diags.str());
    std::string error;
    std::shared_ptr<Instance> inst;
    if constexpr (std::is_same_v<Instance, runtime::AdapterInstance>) {
      inst = Instance::create(plugin, *plugin->descriptor().adapter, *cfg, "fuzz", log, error);
    } else {
      inst = Instance::create(plugin, *plugin->descriptor().stage, *cfg, "fuzz", log, error);
    }
    if (!inst) abort_with(error);
    return inst;
  }

  [[noreturn]] static void abort_with(const std::string& why) {
    std::fprintf(stderr, "fuzz harness: %s\n", why.c_str());
    std::abort();
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
      loop, std::make_unique<fuzz::MemoryStream>(loop, std::move(chunks)), harness.log, "fuzz");
  conn->start(std::make_shared<runtime::Session>(harness.shared, 0), [](bool) {});
  loop.run();  // ends when the input is used up and the connection has closed
  return 0;
}
