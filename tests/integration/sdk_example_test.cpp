// The example at the top of sdk/include/iotgw/plugin.hpp, cut out of the header as it stands,
// builds into a plugin that the real iotgw runs: the first code a plugin author copies cannot
// rot unnoticed again.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gateway_fixture.hpp"
#include "line_client.hpp"

namespace iotgw::test {
namespace {

namespace fs = std::filesystem;

const fs::path kCxx = IOTGW_TEST_CXX;

// The header's opening comment block indented by three spaces, as code ("//" lines are blank).
std::string header_example(const fs::path& header) {
  std::ifstream in(header);
  std::string code;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("//   ")) {
      code += line.substr(5) + "\n";
    } else if (line == "//" && !code.empty()) {
      code += "\n";
    } else if (!code.empty()) {
      break;
    }
  }
  return code;
}

TEST(SdkExample, HeaderExampleBuildsIntoAStageTheGatewayRuns) {
  const auto code = header_example(kSourceDir / "sdk/include/iotgw/plugin.hpp");
  ASSERT_NE(code.find("IOTGW_STAGE_PLUGIN(Upper)"), std::string::npos) << code;
  TempDir build;
  write_file(build / "example.cpp", code);
  fs::create_directories(build / "out");
  auto cc =
      run(kCxx, {"-std=c++20", "-fPIC", "-shared", "-fvisibility=hidden", "-Wall", "-Wextra",
                 "-Werror", "-I", (kSourceDir / "sdk/include").string(),
                 (build / "example.cpp").string(), "-o", (build / "out/iotgw-upper.so").string()});
  ASSERT_EQ(cc.code, 0) << code << cc.output;

  GatewayUnderTest gw(
      "gateway: {plugins_dir: plugins}\n"
      "stages:\n  - {name: up, plugin: upper}\n"
      "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0', pipeline: [up]}\n",
      build / "out");
  LineClient c(gw.port("lines"));
  EXPECT_EQ(c.hello("dev-1"), "WELCOME dev-1");
  c.send_line("quiet words");
  EXPECT_EQ(c.read_line(), "ACK 1");
  EXPECT_EQ(c.read_line(), "MSG QUIET WORDS");
}

}  // namespace
}  // namespace iotgw::test
