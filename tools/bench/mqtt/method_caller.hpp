// The back end of `iotgw-bench methods`: K threads, each with its own kept-alive HTTPS connection
// to the hub's service API, invoking direct methods round-robin over the devices until M calls
// were answered in all, as a back end using Azure's service SDK would.
#pragma once

#include <string>
#include <vector>

#include "histogram.hpp"
#include "iotgw/common/https_client.hpp"

namespace iotgw::bench {

struct MethodCallPlan {
  https::Target hub;
  std::string token;  // a service SAS token
  std::vector<std::string> devices;
  long count = 0;
  int callers = 16;
};

struct MethodCallResult {
  long answered = 0, failed = 0;
  double seconds = 0;
  Histogram latency;  // microseconds, request to answer
  std::string error;  // the first failure
};

// Blocks until `count` calls were made.
MethodCallResult call_methods(const MethodCallPlan& plan);

}  // namespace iotgw::bench
