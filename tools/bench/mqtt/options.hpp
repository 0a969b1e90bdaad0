// iotgw-bench's command line: one mode and its options, checked before anything connects.
#pragma once

#include <optional>
#include <string>

namespace iotgw::bench {

enum class Mode { pub, sub, c2d, conn, sink, twin, methods, coap_pub };

struct Options {
  Mode mode = Mode::pub;
  std::string host = "127.0.0.1", port;
  int clients = 1;
  long count = 1000;      // pub: per client; sub, c2d: in all
  long c2d = 0;           // pub: also subscribe to C2D and wait for this many in all
  double duration_s = 0;  // pub: send for this long instead of --count; sub: stop after it
  double rate = 0;        // pub: messages/s over all clients; conn: connections/s; 0: flat out
  int qos = 1;
  int window = 16;         // pub: QoS 1 publishes unacknowledged per client
  std::size_t size = 256;  // pub: payload bytes (at least the 8-byte time stamp)
  std::string topic;       // pub: topic ({id} = client id); sub: filter
  std::string prefix;      // client ids {prefix}0, {prefix}1, ...; default d, s for sub
  std::string password = "bench";
  std::string iothub;    // IoT Hub user names and topics on this host name
  std::string registry;  // device ids, SAS tokens and the host name from iotgw-hub's registry
  std::string hub_url = "amqp://127.0.0.1:5672";  // c2d: where the service sends
  std::string policy = "service";                 // c2d: the service's policy in the registry
  std::string hub_https;            // methods: the hub's service API, https://host:port
  std::string ca;                   // methods: CAs that sign the hub's certificate
  int callers = 16;                 // methods: concurrent HTTPS callers
  double hold_s = 0;                // conn: keep the connections this long (0: until SIGTERM)
  double timeout_s = 120;           // give up after this long (plus --duration)
  double interval_s = -1;           // pub: a progress line this often; -1: 10 s in long runs
  bool json = false;                // the report as one JSON object instead of text
  int mqtt = 4;                     // protocol level: 4 (3.1.1) or 5
  std::string ws;                   // MQTT over WebSockets on this path; empty: plain TCP
  bool tls = false;                 // MQTT over TLS (full handshakes; --ca verifies the server)
  bool con = true;                  // coap pub: confirmable POSTs (--con) or not (--non)
  std::string path = "/telemetry";  // coap pub: the POSTs' Uri-Path
  // conn: the first source address; the next /24 every 10,000 connections. Client processes
  // run side by side need sources apart: a (source, server) pair has only the ephemeral ports.
  std::string source = "127.1.0.1";
  int retries = 0;  // conn: a refused or failed connection tries again, backing off

  // When a run gives up: a run of --duration S has S seconds of work before the timeout's
  // time to finish it (a 180 s run no longer ends at the default 120 s, reporting nothing).
  double deadline_s() const { return timeout_s + (duration_s > 0 ? duration_s : 0); }
};

// nullopt with `error` set (the usage when empty) for a command line that is not one.
std::optional<Options> parse_options(int argc, char** argv, std::string& error);

extern const char* const kUsage;

}  // namespace iotgw::bench
