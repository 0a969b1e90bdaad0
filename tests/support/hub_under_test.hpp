// A real iotgw-hub process for the gateway's tests: a registry with test devices and policies,
// an ephemeral port, an optional TLS listener with a certificate made for the test, and the
// hub's own CLI (monitor, send) to check from the service side.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "process.hpp"
#include "test_env.hpp"

namespace iotgw::test {

// What the registry holds: dev1, dev2, a disabled `off`, policies `service` and `gateway`.
inline constexpr const char* kHubHost = "localhub.azure-devices.net";
inline constexpr const char* kGatewayKey = "Z2F0ZXdheS1wb2xpY3kta2V5LWZvci10ZXN0cy0wMDE=";

class HubUnderTest {
 public:
  struct Options {
    int extra_devices = 0;  // d0, d1, ... besides the fixed ones
    bool tls = false;       // also listen with TLS, with a CA and certificate made here
    bool https = false;     // also serve the service API over HTTPS (same certificate)
  };
  HubUnderTest() : HubUnderTest(Options{}) {}
  explicit HubUnderTest(Options options);
  ~HubUnderTest();

  // SIGKILL, then the same hub again on the same ports and data dir.
  void kill_and_restart() {
    kill();
    restart();
  }
  void kill();
  void restart();
  std::string registry() const { return (dir_ / "registry.yaml").string(); }
  const std::string& url() const { return url_; }
  const std::string& tls_url() const { return tls_url_; }  // amqps://, with Options::tls
  std::string ca_file() const { return (dir_ / "ca.pem").string(); }
  Process& process() { return *process_; }
  // The next `count` telemetry messages the hub holds, as `iotgw-hub monitor` prints them.
  std::string monitor(int count) const;
  // `iotgw-hub ARGS...` against this hub's HTTPS service API (twin, invoke), as its `service`
  // policy. Needs Options::https.
  RunResult service(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // A C2D message; `props` are application properties, name=value.
  RunResult send(const std::string& device, const std::string& body,
                 const std::vector<std::string>& props = {}) const;
  // A topology's `bridge:` line to this hub, minting device tokens from the `gateway` policy;
  // `more` adds keys (", attach_timeout: 3s").
  std::string minting_bridge(const std::string& more = "") const;

 private:
  void make_certificates() const;
  void start();

  Options options_;
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::string port_, tls_port_, https_port_;  // chosen by the constructor
  std::string url_, tls_url_;
  int starts_ = 0;
};

// A gateway topology: the given `bridge:` block (indented lines) and one line-adapter listener.
std::string bridge_topology(const std::string& bridge_lines, const std::string& line_options = "{}",
                            int threads = 2);

}  // namespace iotgw::test
