#include "report.hpp"

#include <cstdio>

namespace iotgw::bench {
namespace {

std::string format(const char* pattern, const Report& r) {
  const auto& t = r.totals;
  const auto& h = t.latency;
  char line[640];
  std::snprintf(
      line, sizeof line, pattern, r.mode.c_str(), r.clients, t.connected, t.sent, t.acked,
      t.received, t.errors, t.refused, t.retransmitted, t.retried, t.lost, r.seconds, r.rate,
      r.rate * static_cast<double>(r.size) / 1e6, static_cast<unsigned long>(h.count()),
      static_cast<unsigned long>(h.percentile(0.50)),
      static_cast<unsigned long>(h.percentile(0.99)),
      static_cast<unsigned long>(h.percentile(0.999)), static_cast<unsigned long>(h.max()));
  return line;
}

}  // namespace

std::string text(const Report& r) {
  return format(
      "%s clients %d connected %ld sent %ld acked %ld received %ld errors %ld refused %ld "
      "retransmitted %ld retried %ld lost %ld seconds %.3f "
      "msgs/s %.0f MB/s %.2f latency_us n %lu p50 %lu p99 %lu p99.9 %lu max %lu",
      r);
}

std::string json(const Report& r) {
  return format(
      R"({"mode":"%s","clients":%d,"connected":%ld,"sent":%ld,"acked":%ld,"received":%ld,)"
      R"("errors":%ld,"refused":%ld,"retransmitted":%ld,"retried":%ld,"lost":%ld,"seconds":%.3f,)"
      R"("msgs_per_s":%.0f,"mb_per_s":%.2f,)"
      R"("latency_us":{"n":%lu,"p50":%lu,"p99":%lu,"p99.9":%lu,"max":%lu}})",
      r);
}

}  // namespace iotgw::bench
