#include "hub_under_test.hpp"

#include <csignal>
#include <stdexcept>

namespace iotgw::test {

namespace {

void must(const RunResult& r, const std::string& what) {
  if (r.code != 0) throw std::runtime_error(what + " failed:\n" + r.output);
}

}  // namespace

HubUnderTest::HubUnderTest(Options options) : options_(options) {
  std::string more;
  for (int i = 0; i < options_.extra_devices; ++i) {
    more += "  - {id: d" + std::to_string(i) +
            ", primary_key: ZGV2MS1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n";
  }
  write_file(dir_ / "registry.yaml",
             std::string("hostname: ") + kHubHost + "\ndevices:\n" + more +
                 "  - {id: dev1, primary_key: ZGV2MS1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n"
                 "  - {id: dev2, primary_key: ZGV2Mi1wcmltYXJ5LWtleS1mb3ItdGVzdHMtMDAwMDE=}\n"
                 "  - {id: off, primary_key: b2ZmLXByaW1hcnkta2V5LWZvci10ZXN0cy0wMDAwMDE=, "
                 "status: disabled}\n"
                 "policies:\n"
                 "  - {name: service, key: c2VydmljZS1wb2xpY3kta2V5LWZvci10ZXN0cy0wMDE=, rights: "
                 "[service]}\n"
                 "  - {name: gateway, key: " +
                 kGatewayKey + ", rights: [device]}\n");
  if (options_.tls) make_certificates();
  start();
}

HubUnderTest::~HubUnderTest() {
  process_->signal(SIGTERM);
  process_->wait_exit(std::chrono::seconds(10));
}

// A CA of the test's own and a server certificate it signed for the hub's name: what an
// operator's private PKI looks like, and what `ca_file` is for.
void HubUnderTest::make_certificates() const {
  const auto p = [this](const char* name) { return (dir_ / name).string(); };
  const auto timeout = std::chrono::seconds(60);
  must(run("/usr/bin/openssl",
           {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=iotgw test CA", "-keyout", p("ca.key"), "-out", p("ca.pem")},
           timeout),
       "making the test CA");
  must(run("/usr/bin/openssl",
           {"req", "-newkey", "rsa:2048", "-nodes", "-subj", std::string("/CN=") + kHubHost,
            "-keyout", p("hub.key"), "-out", p("hub.csr")},
           timeout),
       "making the hub's key");
  write_file(dir_ / "san.ext", std::string("subjectAltName=DNS:") + kHubHost + "\n");
  must(run("/usr/bin/openssl",
           {"x509", "-req", "-in", p("hub.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", p("san.ext"), "-out", p("hub.pem")},
           timeout),
       "signing the hub's certificate");
}

void HubUnderTest::start() {
  std::vector<std::string> args{"--registry",         registry(),   "--listen",
                                "127.0.0.1:" + port_, "--data-dir", (dir_ / "data").string()};
  if (options_.tls) {
    for (const auto& a :
         {std::string("--tls-listen"), "127.0.0.1:" + tls_port_, std::string("--cert"),
          (dir_ / "hub.pem").string(), std::string("--key"), (dir_ / "hub.key").string()}) {
      args.push_back(a);
    }
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
}

void HubUnderTest::kill() {
  process_->signal(SIGKILL);
  process_->wait_exit(std::chrono::seconds(10));
}

void HubUnderTest::restart() {
  start();
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

RunResult HubUnderTest::send(const std::string& device, const std::string& body) const {
  return run(kHub, {"send", "--registry", registry(), "--url", url_, device, body},
             std::chrono::seconds(20));
}

}  // namespace iotgw::test
