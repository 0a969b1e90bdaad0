// Operations beside messages (ABI 1.2): request/response exchanges between a device and the hub,
// as the bridge and the runtime carry them. The adapter's side is iotgw_op_request and
// iotgw_hub_request in abi.h; these are their owning forms inside the host.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "iotgw/abi.h"

namespace iotgw::bridge {

struct Operation {
  iotgw_op_kind kind = IOTGW_OP_TWIN_GET;
  std::string body;
  std::chrono::milliseconds timeout{30'000};
};

struct OperationResult {
  int status = 0;
  std::int64_t version = -1;  // -1: the hub gave none
  std::string body;
  std::string reason;  // set when the bridge, not the hub, chose the status

  // An answer the bridge gives in the hub's place.
  static OperationResult local(int status, std::string reason) {
    return {status, -1, {}, std::move(reason)};
  }
};

using OperationDone = std::function<void(OperationResult)>;

struct HubRequest {
  iotgw_hub_request_kind kind = IOTGW_HUB_DESIRED_PATCH;
  std::uint64_t id = 0;  // a method call's, for BridgeDevice::respond
  std::string name;
  std::string body;
  std::int64_t version = -1;
};

// HTTP-like statuses the bridge itself answers with, as IoT Hub's own.
inline constexpr int kStatusUnavailable = 503;
inline constexpr int kStatusTimeout = 504;
inline constexpr int kStatusBadRequest = 400;

}  // namespace iotgw::bridge
