// iotgw-bench-stages (Google Benchmark): what each stage costs per message, as the host runs it
// (loaded from its .so, through a real pipeline), at 256 B, 1 KiB and 16 KiB. Compare with the
// libraries' own figures on the same machine: `openssl speed -evp aes-256-gcm`, `zstd -b1`.
//   iotgw-bench-stages PLUGINS_DIR [--benchmark_...]
#include <benchmark/benchmark.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "plugins/catalog.hpp"
#include "plugins/plugin_config.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/plugin_instance.hpp"

namespace {

using namespace iotgw;

std::string g_plugins;  // set from the command line before the benchmarks run

// Telemetry-like JSON: repetitive keys, varying numbers. Compresses as real payloads do, not
// as a run of one byte would.
std::string payload(std::size_t size) {
  std::mt19937 rng(42);
  std::string out;
  while (out.size() < size) {
    out += R"({"deviceId":"sensor-17","temperature":)" + std::to_string(rng() % 4000 / 100.0) +
           R"(,"humidity":)" + std::to_string(rng() % 100) + R"(,"status":"ok"},)";
  }
  out.resize(size);
  return out;
}

struct Stages {
  Logger log{LogLevel::error};
  plugins::PrivateCopies copies;
  plugins::Catalog catalog;
  std::filesystem::path key = std::filesystem::temp_directory_path() / "iotgw-bench-k1.key";

  Stages() {
    std::vector<plugins::LoadError> errors;
    catalog = plugins::Catalog::scan(g_plugins, copies, errors);
    std::ofstream(key) << "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    chmod(key.c_str(), 0600);
  }

  std::shared_ptr<runtime::Pipeline> pipeline(const std::vector<std::pair<const char*, std::string>>& stages) {
    std::vector<runtime::StageRef> refs;
    for (const auto& [plugin, yaml] : stages) {
      auto p = catalog.find(plugin);
      if (!p) throw std::runtime_error(std::string("no plugin ") + plugin + " in " + g_plugins);
      config::Diagnostics diags;
      auto cfg = plugins::PluginConfig::resolve(p->keys(), {YAML::Load(yaml), {}}, plugin, plugin,
                                                diags);
      if (!cfg) throw std::runtime_error(diags.str());
      std::string error;
      auto inst = runtime::StageInstance::create(p, *p->descriptor().stage, *cfg, plugin, log, error);
      if (!inst) throw std::runtime_error(error);
      refs.push_back({plugin, inst});
    }
    return std::make_shared<runtime::Pipeline>(std::vector<runtime::StageRef>{}, std::move(refs));
  }
};

Stages& stages() {
  static Stages s;
  return s;
}

void run_upstream(benchmark::State& state, const std::shared_ptr<runtime::Pipeline>& p) {
  const auto body = payload(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    iotgw_msg m;
    m.device_id = "sensor-17";
    m.body.assign(body.begin(), body.end());
    auto v = p->upstream(m);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void run_downstream(benchmark::State& state, const std::shared_ptr<runtime::Pipeline>& p) {
  iotgw_msg sealed;
  sealed.device_id = "sensor-17";
  const auto body = payload(static_cast<std::size_t>(state.range(0)));
  sealed.body.assign(body.begin(), body.end());
  p->upstream(sealed);
  for (auto _ : state) {
    iotgw_msg m = sealed;
    auto v = p->downstream(m);
    if (v.verdict != IOTGW_CONTINUE) state.SkipWithError(v.reason.c_str());
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BareCopy(benchmark::State& state) { run_upstream(state, stages().pipeline({})); }
void ZstdCompress(benchmark::State& state) {
  run_upstream(state, stages().pipeline({{"zstd", "{level: 3, min_bytes: 0}"}}));
}
void ZstdDecompress(benchmark::State& state) {
  run_downstream(state, stages().pipeline({{"zstd", "{level: 3, min_bytes: 0}"}}));
}
void AesGcmEncrypt(benchmark::State& state) {
  run_upstream(state, stages().pipeline({{"aes-gcm", "{keys: [" + stages().key.string() + "]}"}}));
}
void AesGcmDecrypt(benchmark::State& state) {
  run_downstream(state,
                 stages().pipeline({{"aes-gcm", "{keys: [" + stages().key.string() + "]}"}}));
}
void ZstdThenAesGcm(benchmark::State& state) {
  run_upstream(state, stages().pipeline({{"zstd", "{level: 3, min_bytes: 0}"},
                                         {"aes-gcm", "{keys: [" + stages().key.string() + "]}"}}));
}

BENCHMARK(BareCopy)->Arg(256)->Arg(1024)->Arg(16384);
BENCHMARK(ZstdCompress)->Arg(256)->Arg(1024)->Arg(16384);
BENCHMARK(ZstdDecompress)->Arg(256)->Arg(1024)->Arg(16384);
BENCHMARK(AesGcmEncrypt)->Arg(256)->Arg(1024)->Arg(16384);
BENCHMARK(AesGcmDecrypt)->Arg(256)->Arg(1024)->Arg(16384);
BENCHMARK(ZstdThenAesGcm)->Arg(256)->Arg(1024)->Arg(16384);

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: iotgw-bench-stages PLUGINS_DIR [--benchmark_...]\n");
    return 2;
  }
  g_plugins = argv[1];
  argv[1] = argv[0];
  ++argv;
  --argc;
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
