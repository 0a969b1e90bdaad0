// `iotgw-bench coap pub`: N CoAP clients POST to one server, CON or NON, and the run's report.
// What the MQTT pub mode is for MQTT servers, over UDP; the options are the same Options.
#pragma once

#include <string>
#include <vector>

#include "../mqtt/options.hpp"

namespace iotgw::bench::coap {

struct Device {
  std::string id, credential;  // the first request's d and p
};

// Exit status as iotgw-bench's: 0 when every CON was answered 2.xx (NON: every one sent and none
// refused), 1 otherwise.
int run_pub(const Options& o, const std::vector<Device>& devices);

}  // namespace iotgw::bench::coap
