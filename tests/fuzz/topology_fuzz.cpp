// libFuzzer target: a topology file, as `iotgw --check` and a reload read it (an operator's
// typo, or a ConfigMap written by a tool). Any text parses to a topology or to errors, each
// naming file:line:col; nothing throws out of the parser.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/diagnostics.hpp"
#include "config/model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto file = std::filesystem::temp_directory_path() /
                           ("iotgw-fuzz-topology-" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  iotgw::config::Diagnostics diags;
  const auto topology = iotgw::config::parse_topology(file, diags, true);
  if (!topology && diags.empty()) std::abort();  // no topology and no reason
  if (diags.str().find(file.string()) == std::string::npos && !diags.empty()) std::abort();
  return 0;
}
