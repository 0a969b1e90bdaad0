// What a run counted and timed, printed as one text line or one JSON object.
#pragma once

#include <string>

#include "histogram.hpp"

namespace iotgw::bench {

struct Totals {
  long connected = 0, sent = 0, acked = 0, received = 0, errors = 0;
  // CoAP's CON: answered 4.xx or 5.xx, sent again after a timeout, and given up on (no answer
  // after the last retransmission, or reset). MQTT has no such outcomes: they stay 0 there.
  long refused = 0, retransmitted = 0, lost = 0;
  // conn --retries: connections tried again after a refusal or a failure, as devices do.
  long retried = 0;
  Histogram latency;  // microseconds
};

struct Report {
  std::string mode;
  int clients = 0;
  Totals totals;
  double seconds = 0;  // the measured span (see rate)
  double rate = 0;     // per second: acked (pub), received (sub, c2d), connected (conn)
  std::size_t size = 0;
};

std::string text(const Report& r);
std::string json(const Report& r);

}  // namespace iotgw::bench
