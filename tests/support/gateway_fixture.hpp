// A real iotgw process on a topology the test writes, with helpers to find the ports it bound
// (listeners bind port 0; the gateway logs the port it got) and to reload it.
#pragma once

#include <memory>
#include <string>

#include "process.hpp"
#include "test_env.hpp"

namespace iotgw::test {

// `iotgw --check` of topology_yaml written to <dir>/gateway.yaml, with plugins as
// GatewayUnderTest stocks them.
RunResult check_topology(const TempDir& dir, const std::string& topology_yaml,
                         const std::filesystem::path& overlay = {});

class GatewayUnderTest {
 public:
  // Writes the topology to <dir>/gateway.yaml (plugins_dir: plugins, stocked, then `overlay`'s
  // plugins in place of the shipped ones) and starts iotgw.
  explicit GatewayUnderTest(const std::string& topology_yaml,
                            const std::filesystem::path& overlay = {});
  ~GatewayUnderTest();

  // The port listener `name` bound, as logged for the nth time (reloads log new listeners again).
  std::uint16_t port(const std::string& listener, std::size_t nth = 1) const;
  // Rewrites the topology and sends SIGHUP; waits for reload #n's result line; true if it was ok.
  bool reload(const std::string& topology_yaml);
  Process& process() { return *process_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  unsigned reloads_ = 0;
};

}  // namespace iotgw::test
