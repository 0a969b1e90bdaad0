// `iotgw-hub monitor` and `iotgw-hub send`: a back end talking to a running hub over AMQP, as
// `az iot hub monitor-events` and `az iot hub send-c2d-message` do. SASL ANONYMOUS, then a
// service token put on $cbs, then the work.
#pragma once

#include <map>
#include <string>

namespace iotgw::hub {

struct ServiceTarget {
  std::string url = "amqp://127.0.0.1:5672";
  std::string hostname;  // the hub's, for the token's audience
  std::string token;     // a service SAS token
};

// Prints each telemetry message as one JSON line until interrupted (or `count` messages, if > 0).
int monitor(const ServiceTarget& target, const std::string& consumer_group, long count);

// Sends one C2D message; prints the hub's outcome. Exit code 0 when accepted.
int send_c2d(const ServiceTarget& target, const std::string& device, const std::string& body,
             const std::map<std::string, std::string>& properties, const std::string& ack);

}  // namespace iotgw::hub
