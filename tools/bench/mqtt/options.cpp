#include "options.hpp"

#include <functional>
#include <map>
#include <stdexcept>

#include <boost/asio/ip/address_v4.hpp>

namespace iotgw::bench {

const char* const kUsage =
    "usage: iotgw-bench MODE [options]\n"
    "  pub   --port P [--clients N] [--count M | --duration S] [--rate R] [--qos 0|1]\n"
    "        [--window W] [--size B] [--topic T] [--iothub HOST | --registry FILE] [--c2d K]\n"
    "        N clients publish M messages each (or for S seconds) of B bytes, at most W QoS 1\n"
    "        unacknowledged each, at R msgs/s in all (default: as fast as acknowledgements\n"
    "        allow); latency is publish to PUBACK. --c2d K: also subscribe to the devicebound\n"
    "        topic and wait until K messages arrived in all. --interval S: a line on stderr\n"
    "        every S seconds with that span's rate and latency (default: every 10 s when\n"
    "        --duration is 60 or more; 0: none)\n"
    "  sub   --port P [--clients N] [--count M] [--duration S] [--topic FILTER]\n"
    "        N subscribers (QoS of --qos) until M messages arrived in all, or S seconds; prints\n"
    "        'ready' on stderr once subscribed; latency is the payload's time stamp to arrival\n"
    "  c2d   --port P --registry FILE [--hub-url amqp://H:P] [--policy service] [--clients N]\n"
    "        [--count M] [--size B]   N devices subscribe to their devicebound topic, then the\n"
    "        service sends M messages in all through the hub; devices PUBACK each\n"
    "  conn  --port P [--clients N] [--rate R] [--hold S] [--iothub HOST | --registry FILE]\n"
    "        [--source 127.1.0.1] [--retries K]   open N idle connections at R per second,\n"
    "        from the source address and a new /24 after it every 10,000 (give side-by-side\n"
    "        processes sources apart), print the report once all are accepted, hold them S\n"
    "        seconds. --retries: a refused or failed connection tries again up to K times,\n"
    "        after 1, 2, 4 .. 16 s, each +-50% at random (devices' backoff)\n"
    "  twin  --port P --registry FILE [--clients N] [--count M] [--window W]\n"
    "        N devices each make M twin GETs ($iothub/twin/GET), W outstanding per device;\n"
    "        latency is GET to its $iothub/twin/res answer\n"
    "  methods --port P --registry FILE --hub-https https://H:P [--ca FILE] [--clients N]\n"
    "        [--count M] [--callers K]   N devices answer direct methods while K back-end\n"
    "        callers invoke M in all through the hub's HTTPS API, round-robin over the devices;\n"
    "        latency is the caller's, request to answer\n"
    "  sink  [--port P]   a minimal MQTT server: CONNACK to CONNECT, PUBACK to QoS 1 PUBLISH,\n"
    "        SUBACK (refused) to SUBSCRIBE, PINGRESP; prints 'listening on HOST:PORT'\n"
    "  coap pub --port P [--clients N] [--count M | --duration S] [--rate R] [--con | --non]\n"
    "        [--window W] [--size B] [--path /telemetry] [--registry FILE | --prefix/--password]\n"
    "        N CoAP clients (one UDP socket each) POST M messages each (or for S seconds) of B\n"
    "        bytes. Each client's first request is a CON carrying ?d=ID&p=CREDENTIAL (a SAS token\n"
    "        from --registry, or --password), not timed. --con: at most W unanswered per client,\n"
    "        retransmitted as RFC 7252 says (2 s doubled, 4 times); latency is POST to its 2.xx;\n"
    "        4.xx/5.xx count as refused, unanswered ones as lost. --non: bursts of W, as fast as\n"
    "        the socket takes them or at R msgs/s; answers are counted as received and timed.\n"
    "        Message ids repeat after 65,536 per client: keep M under that within 247 s\n"
    "  common: [--host 127.0.0.1] [--prefix d (s for sub)] [--password PW] [--timeout S] "
    "[--json]\n"
    "        [--mqtt 4|5] (protocol level: 3.1.1 or 5; an MQTT 5 server's Receive Maximum caps\n"
    "        --window) [--ws PATH] (MQTT over WebSockets on PATH, subprotocol mqtt)\n"
    "        --timeout S (default 120): give up after S seconds, plus --duration's when\n"
    "        there is one\n";

namespace {

const std::map<std::string, Mode> kModes{
    {"pub", Mode::pub},   {"sub", Mode::sub},   {"c2d", Mode::c2d},        {"conn", Mode::conn},
    {"sink", Mode::sink}, {"twin", Mode::twin}, {"methods", Mode::methods}};
// Modes of another protocol, named by two words: `coap pub`.
const std::map<std::string, Mode> kCoapModes{{"pub", Mode::coap_pub}};

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, std::string& error) {
  error.clear();
  if (argc < 2) return std::nullopt;
  Options o;
  int first = 2;  // the first option's index
  if (const std::string protocol = argv[1]; protocol == "coap") {
    if (argc < 3 || kCoapModes.count(argv[2]) == 0) return std::nullopt;
    o.mode = kCoapModes.at(argv[2]);
    first = 3;
  } else if (kModes.count(protocol) != 0) {
    o.mode = kModes.at(protocol);
  } else {
    return std::nullopt;
  }
  using Set = std::function<void(const std::string&)>;
  const auto integer = [](auto& field) {
    return Set([&field](const std::string& v) {
      field = static_cast<std::decay_t<decltype(field)>>(std::stoll(v));
    });
  };
  const auto real = [](double& field) {
    return Set([&field](const std::string& v) { field = std::stod(v); });
  };
  const auto text = [](std::string& field) {
    return Set([&field](const std::string& v) { field = v; });
  };
  const std::map<std::string, Set> setters{
      {"--host", text(o.host)},
      {"--port", text(o.port)},
      {"--clients", integer(o.clients)},
      {"--count", integer(o.count)},
      {"--duration", real(o.duration_s)},
      {"--rate", real(o.rate)},
      {"--qos", integer(o.qos)},
      {"--window", integer(o.window)},
      {"--size", integer(o.size)},
      {"--topic", text(o.topic)},
      {"--prefix", text(o.prefix)},
      {"--password", text(o.password)},
      {"--iothub", text(o.iothub)},
      {"--registry", text(o.registry)},
      {"--hub-url", text(o.hub_url)},
      {"--policy", text(o.policy)},
      {"--hold", real(o.hold_s)},
      {"--c2d", integer(o.c2d)},
      {"--timeout", real(o.timeout_s)},
      {"--interval", real(o.interval_s)},
      {"--hub-https", text(o.hub_https)},
      {"--ca", text(o.ca)},
      {"--callers", integer(o.callers)},
      {"--mqtt", integer(o.mqtt)},
      {"--ws", text(o.ws)},
      {"--path", text(o.path)},
      {"--source", text(o.source)},
      {"--retries", integer(o.retries)},
  };
  const std::map<std::string, std::function<void()>> flags{
      {"--json", [&o] { o.json = true; }},
      {"--con", [&o] { o.con = true; }},
      {"--tls", [&o] { o.tls = true; }},
      {"--non", [&o] { o.con = false; }},
  };
  for (int i = first; i < argc; ++i) {
    const std::string a = argv[i];
    if (const auto flag = flags.find(a); flag != flags.end()) {
      flag->second();
      continue;
    }
    auto it = setters.find(a);
    if (it == setters.end()) {
      error = "unknown option '" + a + "'";
      return std::nullopt;
    }
    if (i + 1 >= argc) {
      error = a + " needs a value";
      return std::nullopt;
    }
    try {
      it->second(argv[++i]);
    } catch (const std::exception&) {
      error = a + " takes a number, not '" + argv[i] + "'";
      return std::nullopt;
    }
  }
  if (o.port.empty() && o.mode != Mode::sink) error = "--port is required";
  if (o.clients < 1) error = "--clients must be at least 1";
  if (o.qos != 0 && o.qos != 1) error = "--qos is 0 or 1";
  if (o.window < 1 || o.window > 65535) error = "--window is 1 to 65535";
  if (o.size < 8) error = "--size is at least 8 (the time stamp)";
  if (o.mode == Mode::c2d && o.registry.empty()) error = "c2d needs --registry";
  if (o.mode == Mode::twin && o.registry.empty()) error = "twin needs --registry";
  if (o.mode == Mode::methods && (o.registry.empty() || o.hub_https.empty())) {
    error = "methods needs --registry and --hub-https";
  }
  if (o.interval_s < 0 && o.interval_s != -1) error = "--interval takes seconds, 0 for none";
  if (o.callers < 1) error = "--callers must be at least 1";
  if (o.retries < 0) error = "--retries must be 0 or more";
  if (o.mqtt != 4 && o.mqtt != 5) error = "--mqtt is 4 (MQTT 3.1.1) or 5";
  if (!o.ws.empty() && o.ws.front() != '/') error = "--ws takes a path starting with '/'";
  if (o.tls && !o.ws.empty()) error = "--tls and --ws: one transport at a time";
  if (o.path.empty() || o.path.front() != '/') error = "--path takes a path starting with '/'";
  if (boost::system::error_code bad; boost::asio::ip::make_address_v4(o.source, bad), bad) {
    error = "--source takes an IPv4 address, not '" + o.source + "'";
  }
  if (o.mode == Mode::coap_pub && o.size > 1024) {
    error = "coap pub --size is at most 1024: one datagram, no block-wise transfer";
  }
  if (!error.empty()) return std::nullopt;
  return o;
}

}  // namespace iotgw::bench
