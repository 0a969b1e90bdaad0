// iotgw-hub: a local IoT-Hub-compatible AMQP 1.0 endpoint, and the commands people use with it.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "https_server.hpp"
#include "hub_metrics.hpp"
#include "hub_server.hpp"
#include "iotgw/common/clock.hpp"
#include "iotgw/common/https_client.hpp"
#include "iotgw/common/metrics.hpp"
#include "iotgw/common/sas_token.hpp"
#include "iotgw/common/units.hpp"
#include "metrics_endpoint.hpp"
#include "sasl_plain.hpp"
#include "service_client.hpp"

namespace {

using namespace iotgw;
using namespace iotgw::hub;

const char* kUsage =
    "usage: iotgw-hub --registry FILE [--listen 127.0.0.1:5672] [--log-level LEVEL]\n"
    "                 [--log-format text|json]\n"
    "                 [--tls-listen 127.0.0.1:5671 --cert FILE --key FILE]\n"
    "                 [--https-listen 127.0.0.1:443 (with --cert FILE --key FILE)]\n"
    "                 [--c2d-lock 60s] [--c2d-max-delivery-count 10] [--c2d-ttl 1h]\n"
    "                 [--data-dir DIR [--fsync]] [--metrics-listen HOST:PORT]\n"
    "       iotgw-hub registry add-device FILE ID\n"
    "       iotgw-hub registry connection-string FILE ID\n"
    "       iotgw-hub token --registry FILE (--device ID | --policy NAME) [--ttl SECONDS]\n"
    "       iotgw-hub monitor --registry FILE [--url amqp://127.0.0.1:5672] [--consumer-group G]\n"
    "                         [--count N] [--policy service]\n"
    "       iotgw-hub send --registry FILE DEVICE BODY [--prop k=v ...] [--ack "
    "none|positive|negative|full]\n"
    "                      [--url amqp://127.0.0.1:5672] [--policy service]\n"
    "       iotgw-hub twin get --registry FILE DEVICE\n"
    "       iotgw-hub twin update --registry FILE DEVICE JSON [--etag ETAG]\n"
    "       iotgw-hub invoke --registry FILE DEVICE METHOD [PAYLOAD] [--timeout 30]\n"
    "                        [--connect-timeout 0]\n"
    "         (twin and invoke: [--url https://127.0.0.1:443] [--ca FILE] [--policy service])\n"
    "\n"
    "The registry (YAML) holds the hub's host name, its devices and its access policies; SIGHUP\n"
    "re-reads it; SIGUSR1 logs what it took since it started. SIGTERM and SIGINT stop the hub.\n"
    "--metrics-listen serves GET /metrics (Prometheus's text format); port 0 picks one.\n";

int usage_error(const std::string& why) {
  std::cerr << "iotgw-hub: " << why << "\n\n" << kUsage;
  return 2;
}

Registry load_or_fresh(const std::filesystem::path& file) {
  return std::filesystem::exists(file) ? Registry::load(file) : Registry::fresh();
}

int add_device(const std::filesystem::path& file, const std::string& id) {
  Registry r = load_or_fresh(file);
  if (r.device(id) != nullptr) {
    std::cerr << "iotgw-hub: device '" << id << "' is already in " << file.string() << "\n";
    return 1;
  }
  r.put({id, sas::random_key(), sas::random_key(), true});
  r.save(file);
  std::cout << "added device " << id << " to " << file.string() << "\n";
  return 0;
}

int connection_string(const std::filesystem::path& file, const std::string& id) {
  const Registry r = Registry::load(file);
  const Device* d = r.device(id);
  if (d == nullptr) {
    std::cerr << "iotgw-hub: no device '" << id << "' in " << file.string() << "\n";
    return 1;
  }
  std::cout << "HostName=" << r.hostname << ";DeviceId=" << d->id
            << ";SharedAccessKey=" << d->primary_key << "\n";
  return 0;
}

int token(int argc, char** argv) {
  std::string registry, device, policy;
  long ttl = 3600;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage_error(a + " needs a value");
    if (a == "--registry")
      registry = argv[++i];
    else if (a == "--device")
      device = argv[++i];
    else if (a == "--policy")
      policy = argv[++i];
    else if (a == "--ttl")
      ttl = std::stol(argv[++i]);
    else
      return usage_error("unknown argument '" + a + "'");
  }
  if (registry.empty() || device.empty() == policy.empty()) {
    return usage_error("token needs --registry and one of --device or --policy");
  }
  const Registry r = Registry::load(registry);
  const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count() +
                      ttl;
  if (!device.empty()) {
    const Device* d = r.device(device);
    if (d == nullptr) {
      std::cerr << "iotgw-hub: no device '" << device << "' in " << registry << "\n";
      return 1;
    }
    std::cout << sas::make(r.hostname + "/devices/" + sas::url_encode(device), d->primary_key,
                           expiry)
              << "\n";
  } else {
    const Policy* p = r.policy(policy);
    if (p == nullptr) {
      std::cerr << "iotgw-hub: no policy '" << policy << "' in " << registry << "\n";
      return 1;
    }
    std::cout << sas::make(r.hostname, p->key, expiry, p->name) << "\n";
  }
  return 0;
}

// Where `twin` and `invoke` send their requests, and as whom.
struct RestTarget {
  https::Target where{"https://127.0.0.1:443", {}, {}};
  std::string token;  // a service SAS token
};

// One request; prints the answer's JSON and exits 0 on 2xx, else 1 with the hub's message.
int rest_call(const RestTarget& t, const std::string& method, const std::string& path,
              const std::string& body, const std::string& if_match = {}) {
  const auto a = https::Client(t.where).call(method, path, t.token, body, if_match);
  if (!a.error.empty()) {
    std::cerr << "iotgw-hub: " << a.error << "\n";
    return 1;
  }
  if (a.status >= 200 && a.status < 300) {
    std::cout << a.body << "\n";
    return 0;
  }
  std::cerr << "iotgw-hub: the hub answered " << a.status << ": " << a.body << "\n";
  return 1;
}

int twin_command(const RestTarget& t, const std::vector<std::string>& args,
                 const std::string& etag) {
  if (args.size() == 2 && args[0] == "get") {
    return rest_call(t, "GET", "/twins/" + sas::url_encode(args[1]), {});
  }
  if (args.size() == 3 && args[0] == "update") {
    return rest_call(t, "PATCH", "/twins/" + sas::url_encode(args[1]), args[2],
                     etag.empty() ? "*" : etag);
  }
  return usage_error("twin takes get DEVICE, or update DEVICE JSON");
}

int invoke_command(const RestTarget& t, const std::vector<std::string>& args,
                   const std::string& timeout, const std::string& connect_timeout) {
  if (args.size() != 2 && args.size() != 3) {
    return usage_error("invoke takes DEVICE METHOD [PAYLOAD]");
  }
  const auto response = parse_int(timeout);
  const auto connect = parse_int(connect_timeout);
  if (!response || !connect) return usage_error("--timeout and --connect-timeout take seconds");
  // The payload is JSON; a bare word is taken as a JSON string, as `az` does.
  auto payload = nlohmann::json::parse(args.size() == 3 ? args[2] : "null", nullptr, false);
  if (payload.is_discarded()) payload = args[2];
  const nlohmann::ordered_json body{{"methodName", args[1]},
                                    {"payload", payload},
                                    {"responseTimeoutInSeconds", *response},
                                    {"connectTimeoutInSeconds", *connect}};
  return rest_call(t, "POST", "/twins/" + sas::url_encode(args[0]) + "/methods", body.dump());
}

// monitor and send: a service token minted from the registry's policy, then the AMQP work;
// twin and invoke: the same token, then the HTTPS service API.
int service_command(int argc, char** argv) {
  const std::string command = argv[1];
  const bool rest = command == "twin" || command == "invoke";
  std::string registry_file, policy = "service", group = "$Default", ack, etag;
  std::string timeout = "30", connect_timeout = "0";
  ServiceTarget target;
  RestTarget rest_target;
  long count = 0;
  std::vector<std::string> positional;
  std::map<std::string, std::string> props;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      positional.push_back(a);
      continue;
    }
    if (i + 1 >= argc) return usage_error(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--registry") {
      registry_file = v;
    } else if (a == "--url") {
      target.url = v;
      rest_target.where.url = v;
    } else if (a == "--ca" && rest) {
      rest_target.where.ca_file = v;
    } else if (a == "--etag" && command == "twin") {
      etag = v;
    } else if (a == "--timeout" && command == "invoke") {
      timeout = v;
    } else if (a == "--connect-timeout" && command == "invoke") {
      connect_timeout = v;
    } else if (a == "--policy") {
      policy = v;
    } else if (a == "--consumer-group" && command == "monitor") {
      group = v;
    } else if (a == "--count" && command == "monitor") {
      count = std::stol(v);
    } else if (a == "--prop" && command == "send") {
      const auto eq = v.find('=');
      if (eq == std::string::npos || eq == 0) return usage_error("--prop takes key=value");
      props[v.substr(0, eq)] = v.substr(eq + 1);
    } else if (a == "--ack" && command == "send") {
      if (v != "none" && v != "positive" && v != "negative" && v != "full") {
        return usage_error("--ack takes none, positive, negative or full");
      }
      ack = v;
    } else {
      return usage_error("unknown argument '" + a + "' for " + command);
    }
  }
  if (registry_file.empty())
    return usage_error(command + " needs --registry FILE (for the service key)");
  const Registry r = Registry::load(registry_file);
  const Policy* p = r.policy(policy);
  if (rest) {
    if (p == nullptr) {
      std::cerr << "iotgw-hub: " << registry_file << " has no policy '" << policy << "'\n";
      return 1;
    }
    rest_target.where.hostname = r.hostname;
    rest_target.token = sas::make(r.hostname, p->key, unix_seconds() + 3600, p->name);
    return command == "twin" ? twin_command(rest_target, positional, etag)
                             : invoke_command(rest_target, positional, timeout, connect_timeout);
  }
  if (positional.size() != (command == "send" ? 2U : 0U)) {
    return usage_error(command == "send" ? "send takes DEVICE and BODY"
                                         : "monitor takes no positional arguments");
  }
  if (p == nullptr || p->rights.count("service") == 0) {
    std::cerr << "iotgw-hub: " << registry_file << " has no policy '" << policy
              << "' with the service right\n";
    return 1;
  }
  target.hostname = r.hostname;
  const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count() +
                      3600;
  target.token = sas::make(r.hostname, p->key, expiry, p->name);
  if (command == "monitor") return monitor(target, group, count);
  return send_c2d(target, positional[0], positional[1], props, ack);
}

int serve(int argc, char** argv) {
  std::string registry_file;
  HubEndpoints endpoints;
  LogLevel level = LogLevel::info;
  LogFormat format = LogFormat::text;
  HubLimits limits;
  std::string data_dir, https_listen, metrics_listen;
  bool fsync = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--fsync") {
      fsync = true;
      continue;
    }
    if (i + 1 >= argc) return usage_error(a + " needs a value");
    if (a == "--data-dir")
      data_dir = argv[++i];
    else if (a == "--registry")
      registry_file = argv[++i];
    else if (a == "--listen")
      endpoints.listen = argv[++i];
    else if (a == "--tls-listen")
      endpoints.tls_listen = argv[++i];
    else if (a == "--https-listen")
      https_listen = argv[++i];
    else if (a == "--metrics-listen")
      metrics_listen = argv[++i];
    else if (a == "--cert")
      endpoints.cert_file = argv[++i];
    else if (a == "--key")
      endpoints.key_file = argv[++i];
    else if (a == "--log-level") {
      auto l = parse_log_level(argv[++i]);
      if (!l) return usage_error("bad --log-level");
      level = *l;
    } else if (a == "--log-format") {
      auto f = parse_log_format(argv[++i]);
      if (!f) return usage_error("--log-format takes text or json");
      format = *f;
    } else if (a == "--c2d-lock" || a == "--c2d-ttl") {
      auto d = parse_duration(argv[++i]);
      if (!d || d->count() == 0) return usage_error(a + " takes a duration such as 500ms or 60s");
      (a == "--c2d-lock" ? limits.c2d.lock : limits.c2d.default_ttl) = *d;
    } else if (a == "--c2d-max-delivery-count") {
      auto n = parse_int(argv[++i]);
      if (!n || *n < 1 || *n > 100) return usage_error("--c2d-max-delivery-count takes 1 to 100");
      limits.c2d.max_delivery_count = static_cast<int>(*n);
    } else {
      return usage_error("unknown argument '" + a + "'");
    }
  }
  if (registry_file.empty()) return usage_error("--registry FILE is required");
  if (!endpoints.tls_listen.empty() &&
      (endpoints.cert_file.empty() || endpoints.key_file.empty())) {
    return usage_error("--tls-listen needs --cert FILE and --key FILE");
  }
  if (!https_listen.empty() && (endpoints.cert_file.empty() || endpoints.key_file.empty())) {
    return usage_error("--https-listen needs --cert FILE and --key FILE");
  }
  Logger log(level, stderr, format);
  auto registry = std::make_shared<const Registry>(Registry::load(registry_file));

  // Signals go to one thread that waits for them; Proton's thread never sees one.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Outlives everything that counts into it, and the endpoint that reads it.
  metrics::Registry metric_registry;
  HubMetrics hub_metrics(metric_registry);
  const auto process = metric_registry.collect(metrics::collect_process);
  HubServer server(registry, endpoints, log, hub_metrics, limits);
  if (!data_dir.empty()) server.open_data_dir(data_dir, fsync);
  std::unique_ptr<http::Server> metrics_endpoint;
  if (!metrics_listen.empty())
    metrics_endpoint = serve_metrics(metrics_listen, metric_registry, log);
  // The service API over HTTPS: the registry, twins and direct methods, as Azure's service SDKs
  // call them.
  ServiceApi service_api(server, registry_file, log);
  std::unique_ptr<http::Server> https;
  if (!https_listen.empty())
    https = serve_https(https_listen, endpoints.cert_file, endpoints.key_file, service_api, log);
  install_sasl_plain(
      [&server](std::string_view user, std::string_view password, std::string& result) {
        return server.check_plain(user, password, result);
      });
  std::thread waiter([&] {
    for (;;) {
      int signo = 0;
      if (sigwait(&signals, &signo) != 0) continue;
      if (signo == SIGUSR1) {
        // Info, as iotgw's own: warnings go through the repeat limiter, which held back all but
        // 10 status lines in 5 s, and a script asking every 0.3 s read a stale count.
        log.info("hub", "status: " + hub_metrics.status());
        continue;
      }
      if (signo == SIGHUP) {
        try {
          server.set_registry(std::make_shared<const Registry>(Registry::load(registry_file)));
          log.info("hub", "registry reloaded from " + registry_file);
        } catch (const std::exception& e) {
          log.error("hub", std::string("registry reload failed, keeping the old one: ") + e.what());
        }
        continue;
      }
      log.info("hub", "stopping");
      server.stop();
      return;
    }
  });
  int code = 0;
  try {
    server.run();
  } catch (const std::exception& e) {
    log.error("hub", std::string("stopped on an error: ") + e.what());
    code = 1;
  }
  if (https) https->stop();
  // run() also returns when listening failed: wake the waiter so it can be joined.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc >= 2 && std::strcmp(argv[1], "registry") == 0) {
      if (argc != 5) return usage_error("registry takes a command, a FILE and an ID");
      if (std::strcmp(argv[2], "add-device") == 0) return add_device(argv[3], argv[4]);
      if (std::strcmp(argv[2], "connection-string") == 0)
        return connection_string(argv[3], argv[4]);
      return usage_error(std::string("unknown registry command '") + argv[2] + "'");
    }
    if (argc >= 2 && std::strcmp(argv[1], "token") == 0) return token(argc, argv);
    if (argc >= 2 && (std::strcmp(argv[1], "monitor") == 0 || std::strcmp(argv[1], "send") == 0 ||
                      std::strcmp(argv[1], "twin") == 0 || std::strcmp(argv[1], "invoke") == 0)) {
      return service_command(argc, argv);
    }
    if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
      std::cout << kUsage;
      return 0;
    }
    return serve(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "iotgw-hub: " << e.what() << "\n";
    return 1;
  }
}
