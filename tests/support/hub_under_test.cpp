#include "hub_under_test.hpp"

#include "test_pki.hpp"

#include <sys/socket.h>

#include <csignal>
#include <stdexcept>

namespace iotgw::test {

HubUnderTest::HubUnderTest(Options options) : options_(options) {
  std::string more;
  for (int i = 0; i < options_.extra_devices; ++i) {
    more += "  - {id: d" + std::to_string(i) +
            ", primary_key: ZGV2MS1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n";
  }
  write_secret_file(
      dir_ / "registry.yaml",
      std::string("hostname: ") + kHubHost + "\ndevices:\n" + more +
          "  - {id: dev1, primary_key: ZGV2MS1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n"
          "  - {id: dev2, primary_key: ZGV2Mi1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n"
          "  - {id: off, primary_key: b2ZmLXByaW1hcnkta2V5LWZvci10ZXN0cy0wMDAwMDE=, "
          "status: disabled}\n"
          "policies:\n"
          "  - {name: service, key: c2VydmljZS1wb2xpY3kta2V5LWZvci10ZXN0cy0wMDE=, rights: "
          "[service, registry]}\n"
          "  - {name: gateway, key: " +
          kGatewayKey + ", rights: [device]}\n");
  if (options_.tls || options_.https) make_certificates();
  // Ports of its own, not the kernel's pick: a restart binds them again, and a port from the
  // ephemeral range can meanwhile go to any outgoing connection (even the bridge's own
  // reconnect, connecting to itself). One taken between the pick and the bind: pick again.
  for (int attempt = 1;; ++attempt) {
    port_ = std::to_string(free_port(SOCK_STREAM));
    tls_port_ = std::to_string(free_port(SOCK_STREAM));
    https_port_ = std::to_string(free_port(SOCK_STREAM));
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      if (attempt == 3) throw;
    }
  }
}

HubUnderTest::~HubUnderTest() {
  process_->signal(SIGTERM);
  process_->wait_exit(std::chrono::seconds(10));
}

// The hub's certificate from a CA of the test's own: what `ca_file` is for.
void HubUnderTest::make_certificates() const {
  TestPki pki(dir_.path());
  pki.issue("hub", kHubHost, std::string("DNS:") + kHubHost);
}

void HubUnderTest::start() {
  std::vector<std::string> args{"--registry",         registry(),   "--listen",
                                "127.0.0.1:" + port_, "--data-dir", (dir_ / "data").string()};
  if (options_.tls) args.insert(args.end(), {"--tls-listen", "127.0.0.1:" + tls_port_});
  if (options_.https) args.insert(args.end(), {"--https-listen", "127.0.0.1:" + https_port_});
  if (options_.tls || options_.https) {
    args.insert(args.end(),
                {"--cert", (dir_ / "hub.pem").string(), "--key", (dir_ / "hub.key").string()});
  }
  process_ =
      std::make_unique<Process>(kHub, args, dir_ / ("hub-" + std::to_string(++starts_) + ".log"));
  auto bound = process_->wait_for("\\] listening on 127\\.0\\.0\\.1:([0-9]+)");
  if (!bound) throw std::runtime_error("iotgw-hub did not start:\n" + process_->output());
  port_ = *bound;
  url_ = "amqp://127.0.0.1:" + port_;
  if (options_.tls) {
    auto tls = process_->wait_for("\\] TLS listening on 127\\.0\\.0\\.1:([0-9]+)");
    if (!tls) throw std::runtime_error("iotgw-hub did not listen with TLS:\n" + process_->output());
    tls_port_ = *tls;
    tls_url_ = "amqps://127.0.0.1:" + tls_port_;
  }
  if (options_.https) {
    auto https = process_->wait_for("\\] https listening on 127\\.0\\.0\\.1:([0-9]+)");
    if (!https) throw std::runtime_error("iotgw-hub did not serve HTTPS:\n" + process_->output());
    https_port_ = *https;
  }
}

RunResult HubUnderTest::service(const std::vector<std::string>& args,
                                std::chrono::milliseconds timeout) const {
  std::vector<std::string> all = args;
  all.insert(all.end(), {"--registry", registry(), "--url", "https://127.0.0.1:" + https_port_,
                         "--ca", ca_file()});
  return run(kHub, all, timeout);
}

void HubUnderTest::kill() {
  process_->signal(SIGKILL);
  process_->wait_exit(std::chrono::seconds(10));
}

void HubUnderTest::restart() {
  start();
}

std::string HubUnderTest::minting_bridge(const std::string& more) const {
  return "bridge: {flavour: iothub, url: '" + url_ + "', hostname: " + kHubHost +
         ", policy: gateway, policy_key: '" + kGatewayKey + "'" + more + "}\n";
}

std::string bridge_topology(const std::string& bridge_lines, const std::string& line_options,
                            int threads) {
  return "gateway: {plugins_dir: plugins, threads: " + std::to_string(threads) + "}\nbridge:\n" +
         bridge_lines +
         "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0', options: " +
         line_options + "}\n";
}

std::string HubUnderTest::monitor(int count) const {
  return run(kHub,
             {"monitor", "--registry", registry(), "--url", url_, "--count", std::to_string(count)},
             std::chrono::seconds(20))
      .output;
}

RunResult HubUnderTest::send(const std::string& device, const std::string& body,
                             const std::vector<std::string>& props) const {
  std::vector<std::string> args{"send", "--registry", registry(), "--url", url_, device, body};
  for (const auto& p : props) args.insert(args.end(), {"--prop", p});
  return run(kHub, args, std::chrono::seconds(20));
}

}  // namespace iotgw::test
