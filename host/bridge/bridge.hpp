// The one upstream every adapter shares. The runtime sees a Bridge (one per gateway) and a
// BridgeDevice per authenticated device connection; flavours (loopback; iothub and amqp on Qpid
// Proton) implement both.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "bridge/device_claims.hpp"
#include "bridge/operations.hpp"
#include "config/model.hpp"
#include "iotgw/abi.h"
#include "iotgw/common/log.hpp"
#include "runtime/message.hpp"

namespace iotgw::bridge {

struct Identity {
  std::string device_id;
  std::string module_id;
  std::string auth_method;
  std::string hub_token;  // presented upstream for this device when set
};

// How the bridge reaches one device connection. Called on that connection's loop.
class DeviceChannel {
 public:
  virtual ~DeviceChannel() = default;
  // A message from the hub. The channel answers with BridgeDevice::settle(delivery, ...).
  virtual void deliver(std::unique_ptr<iotgw_msg> msg, std::uint64_t delivery) = 0;
  // Once per attach, never inside it: the hub took the device (IOTGW_OK), refused it
  // (IOTGW_ERR_REFUSED, with the hub's reason), or could not be reached in time
  // (IOTGW_ERR_UNAVAILABLE). The adapter answers the device's login only then.
  virtual void attached(iotgw_status status, const std::string& reason) = 0;
  // End the device's connection: a newer one took over (IOTGW_CLOSE_TAKEN_OVER), or the hub
  // refused or dropped the device later, an expired token say (IOTGW_CLOSE_HUB_REFUSED). The
  // adapter hears the cause first, so it can tell the device why.
  virtual void close(iotgw_close_cause cause, const std::string& reason) = 0;
  // The bridge holds as many of this device's messages as it will queue (no link credit, or no
  // hub connection): stop reading from the device until it says ready again. Nothing upstream
  // is ever buffered without bound.
  virtual void upstream_ready(bool ready) = 0;
  // The hub tells (a desired-property patch) or asks (a method call, answered with
  // BridgeDevice::respond). Only for what the device enabled with an operation.
  virtual void hub_request(const HubRequest& request) = 0;
};

// One device's links upstream. Lives on the device connection's loop; destroying it detaches
// the device and releases every delivery it did not settle.
class BridgeDevice {
 public:
  using Completion = std::function<void(iotgw_outcome, const std::string& reason)>;

  virtual ~BridgeDevice() = default;
  // QoS 1: `done` runs on the loop with the hub's outcome, never inside this call.
  // QoS 0: `done` may be empty and is not called.
  virtual void send(std::unique_ptr<iotgw_msg> msg, iotgw_qos qos, Completion done) = 0;
  virtual void set_downstream(bool enabled) = 0;
  virtual void settle(std::uint64_t delivery, iotgw_outcome outcome, std::string_view reason) = 0;
  // An operation upstream: `done` runs on the loop exactly once, never inside this call.
  virtual void request(Operation op, OperationDone done) = 0;
  // The device's answer to a method call; false when the call is unknown or already over.
  virtual bool respond(std::uint64_t id, int status, std::string body) = 0;
};

// What the bridge holds now, summed over its hub connections; counters count since start.
struct BridgeStats {
  std::size_t connections = 0, up = 0;
  std::size_t devices = 0, in_flight = 0;
  std::size_t queued = 0;  // messages waiting for link credit or for the connection
  std::size_t held = 0;    // devices whose reading is paused
  // size_t like the rest, so one list of members can show them all (serve_command.cpp).
  std::size_t reconnects = 0, tokens_renewed = 0;
  std::string last_error;
};

class Bridge {
 public:
  virtual ~Bridge() = default;
  virtual std::unique_ptr<BridgeDevice> attach(boost::asio::io_context& loop,
                                               const Identity& identity,
                                               std::weak_ptr<DeviceChannel> channel) = 0;
  virtual std::string describe() const = 0;
  // What an operator asks with SIGUSR1: connections, devices, in flight, reconnects, last error.
  // Any thread.
  virtual std::string status() const { return describe(); }
  // The same as numbers (metrics, readiness). Any thread. A bridge with no hub (loopback) is
  // always up.
  virtual BridgeStats stats() const {
    BridgeStats always_up;
    always_up.connections = always_up.up = 1;
    return always_up;
  }
  // Opens each loop's first hub connection now rather than at the first device's login, so
  // readiness can say whether the hub is reachable before a device finds out. One loop after
  // the other: Proton's TLS setup is not safe to run on two threads at once. Any thread.
  virtual void warm_up(const std::vector<boost::asio::io_context*>& /*loops*/) {}
  // Which connection holds each device id, whatever the flavour.
  DeviceClaims& claims() { return claims_; }

 private:
  DeviceClaims claims_;
};

std::unique_ptr<Bridge> make_bridge(const config::BridgeSpec& spec, Logger& log);

}  // namespace iotgw::bridge
