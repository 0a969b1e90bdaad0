// libFuzzer target: a stage plugin's downstream path (cloud-to-device) as the host runs it,
// loaded from its .so: a message the stage sealed on the way up, its body replaced by the
// input. For zstd that is any frame claiming any size (the decompression bound must hold), for
// aes-gcm any envelope under the marker. A verdict comes back, with a reason when it is not
// CONTINUE; nothing crashes or leaks.
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "loaded_plugins.hpp"
#include "runtime/message.hpp"
#include "runtime/pipeline.hpp"

namespace {

using namespace iotgw;

struct Harness {
  fuzz::LoadedPlugins plugins{IOTGW_FUZZ_PLUGINS};
  std::shared_ptr<runtime::Pipeline> pipeline;
  iotgw_msg sealed;

  Harness() {
    const auto key = std::filesystem::temp_directory_path() / "iotgw-fuzz-k1.key";
    std::ofstream(key) << "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    ::chmod(key.c_str(), 0600);
    std::string yaml = IOTGW_FUZZ_STAGE_CONFIG;
    if (const auto at = yaml.find("{key}"); at != std::string::npos) {
      yaml.replace(at, 5, key.string());
    }
    auto stage = plugins.make<runtime::StageInstance>(IOTGW_FUZZ_STAGE, yaml);
    pipeline = std::make_shared<runtime::Pipeline>(
        std::vector<runtime::StageRef>{},
        std::vector<runtime::StageRef>{{IOTGW_FUZZ_STAGE, stage}});
    sealed.device_id = "d1";
    sealed.body.assign(64, 'x');
    if (pipeline->upstream(sealed).verdict != IOTGW_CONTINUE) fuzz::abort_with("cannot seal");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness h;
  iotgw_msg m = h.sealed;
  m.body.assign(data, data + size);
  const auto v = h.pipeline->downstream(m);
  if (v.verdict != IOTGW_CONTINUE && v.reason.empty()) std::abort();  // a refusal says why
  return 0;
}
