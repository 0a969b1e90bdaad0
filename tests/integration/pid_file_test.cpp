// --pid-file: written once the gateway serves, names it for `kill -HUP $(cat FILE)`, refuses a
// second gateway while the first lives, and goes when the gateway exits.
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "process.hpp"
#include "test_env.hpp"

namespace iotgw::test {
namespace {

namespace fs = std::filesystem;

struct PidFileGateway {
  TempDir dir;
  fs::path pid_file = dir / "run/iotgw.pid";
  PidFileGateway() {
    stock_plugins(dir / "plugins");
    fs::create_directories(pid_file.parent_path());
    write_file(dir / "gateway.yaml",
               "gateway: {plugins_dir: plugins}\n"
               "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0'}\n");
  }
  std::vector<std::string> args() const {
    return {"--config", (dir / "gateway.yaml").string(), "--pid-file", pid_file.string()};
  }
};

TEST(PidFile, NamesTheServingGatewayAndGoesWhenItExits) {
  PidFileGateway g;
  Process gw(kIotgw, g.args(), g.dir / "iotgw.log");
  ASSERT_TRUE(gw.wait_for("serving .* event loop")) << gw.output();
  ASSERT_EQ(read_file(g.pid_file), std::to_string(gw.pid()) + "\n");

  // What the README tells operators: kill -HUP $(cat FILE).
  ::kill(static_cast<pid_t>(std::stoi(read_file(g.pid_file))), SIGHUP);
  EXPECT_TRUE(gw.wait_for("reload #1 ok")) << gw.output();

  gw.signal(SIGTERM);
  EXPECT_EQ(gw.wait_exit(std::chrono::seconds(15)), 0) << gw.output();
  EXPECT_FALSE(fs::exists(g.pid_file));
}

TEST(PidFile, ASecondGatewayOnTheSameFileRefusesToStart) {
  PidFileGateway g;
  Process first(kIotgw, g.args(), g.dir / "first.log");
  ASSERT_TRUE(first.wait_for("serving .* event loop")) << first.output();

  auto second = run(kIotgw, g.args());
  EXPECT_EQ(second.code, 1) << second.output;
  EXPECT_NE(second.output.find("pid file " + g.pid_file.string() + " names iotgw process " +
                               std::to_string(first.pid()) + ", which is running"),
            std::string::npos)
      << second.output;
  EXPECT_EQ(read_file(g.pid_file), std::to_string(first.pid()) + "\n");
}

TEST(PidFile, AFileNamingAProcessThatIsNoGatewayIsTakenOver) {
  PidFileGateway g;
  // This test program is alive but is not iotgw: a pid file left behind whose id was reused.
  write_file(g.pid_file, std::to_string(::getpid()) + "\n");
  Process gw(kIotgw, g.args(), g.dir / "iotgw.log");
  ASSERT_TRUE(gw.wait_for("serving .* event loop")) << gw.output();
  EXPECT_EQ(read_file(g.pid_file), std::to_string(gw.pid()) + "\n");
}

}  // namespace
}  // namespace iotgw::test
