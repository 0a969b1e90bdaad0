#include "gateway_fixture.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <stdexcept>

namespace iotgw::test {

RunResult check_topology(const TempDir& dir, const std::string& topology_yaml,
                         const std::filesystem::path& overlay) {
  stock_plugins(dir / "plugins", overlay);
  write_file(dir / "gateway.yaml", topology_yaml);
  return run(kIotgw, {"--config", (dir / "gateway.yaml").string(), "--check"});
}

GatewayUnderTest::GatewayUnderTest(const std::string& topology_yaml,
                                   const std::filesystem::path& overlay) {
  stock_plugins(dir_ / "plugins", overlay);
  write_file(dir_ / "gateway.yaml", topology_yaml);
  process_ = std::make_unique<Process>(
      kIotgw, std::vector<std::string>{"--config", (dir_ / "gateway.yaml").string()},
      dir_ / "iotgw.log");
  if (!process_->wait_for("serving .* event loop")) {
    throw std::runtime_error("iotgw did not start:\n" + process_->output());
  }
}

GatewayUnderTest::~GatewayUnderTest() {
  // Every test ends with a clean shutdown: exit 0, and under the sanitizers no leak or race
  // report (either makes the exit code non-zero).
  if (!process_->running()) return;
  process_->signal(SIGTERM);
  const auto code = process_->wait_exit(std::chrono::seconds(15));
  if (code != 0) {
    ADD_FAILURE() << "iotgw did not exit 0 on SIGTERM ("
                  << (code ? std::to_string(*code) : "still running") << "):\n"
                  << process_->output();
  }
}

std::uint16_t GatewayUnderTest::port(const std::string& listener, std::size_t nth) const {
  auto p = process_->wait_for("\\[listener " + listener + "\\] listening on [^ ]*:([0-9]+) ",
                              std::chrono::seconds(10), nth);
  if (!p) throw std::runtime_error("listener " + listener + " did not log its port");
  return static_cast<std::uint16_t>(std::stoi(*p));
}

bool GatewayUnderTest::reload(const std::string& topology_yaml) {
  write_file(dir_ / "gateway.yaml", topology_yaml);
  process_->signal(SIGHUP);
  const std::string tag = "reload #" + std::to_string(++reloads_);
  auto result = process_->wait_for(tag + " (ok|failed)");
  if (!result) throw std::runtime_error(tag + " did not finish:\n" + process_->output());
  return *result == "ok";
}

}  // namespace iotgw::test
