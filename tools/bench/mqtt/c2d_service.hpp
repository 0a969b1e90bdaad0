// The service side of `iotgw-bench c2d`: sends cloud-to-device messages through iotgw-hub
// (Qpid Proton, SASL PLAIN as a shared access policy), as a back end would. Each body starts
// with its send time (now_ns), so devices can time the whole path.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace iotgw::bench {

struct C2dPlan {
  std::string url;       // amqp://host:port
  std::string hostname;  // the hub's
  std::string policy, policy_key;
  std::vector<std::string> devices;  // round-robin
  long count = 0;
  std::size_t size = 256;
  // Messages sent and not yet received by a device (counted in `received`, by the devices'
  // thread), or without it, not yet settled by the hub. The hub accepts a message once it is
  // queued: a window on that alone lets the service outrun the devices until IoT Hub's 50 queued
  // per device refuse it, which measures the queue, not the path.
  int window = 1000;
  const std::atomic<long>* received = nullptr;
};

struct C2dResult {
  long sent = 0, accepted = 0, refused = 0;
  std::string error;
};

// Blocks until every message is settled by the hub or the connection fails.
C2dResult send_c2d(const C2dPlan& plan);

}  // namespace iotgw::bench
