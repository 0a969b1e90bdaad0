// The device side of twin and direct methods over AMQP, as IoT Hub serves it: each device attaches
// a link pair on /devices/{id}/twin (requests in; answers and desired-property patches out) and
// one on /devices/{id}/methods/devicebound (calls out; answers in). Requests are answered from the
// TwinStore; method calls come from the service side (invoke) and wait for the device's answer.
// Runs on the hub's Proton thread, as HubServer does.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <proton/connection.hpp>
#include <proton/link.hpp>
#include <proton/message.hpp>
#include <proton/sender.hpp>

#include "hub_metrics.hpp"
#include "iotgw/common/log.hpp"
#include "twin_store.hpp"

namespace iotgw::hub {

class DeviceOperations {
 public:
  DeviceOperations(TwinStore& twins, OperationMetrics& metrics, Logger& log);

  // The device's receiving ends, attached: where answers, patches and calls go.
  void twin_attached(const std::string& device, const proton::sender& s);
  void methods_attached(const std::string& device, const proton::sender& s);
  void link_closed(const proton::link& l);
  // The device's twin and methods senders, wherever attached.
  std::vector<proton::sender> senders_of(const std::string& device) const;
  void connection_closed(const proton::connection& c);

  // A message on the device's sending ends.
  void twin_request(const std::string& device, const proton::message& m);
  void method_answer(const std::string& device, const proton::message& m);

  // The service changed desired properties: devices watching them get the patch.
  void desired_changed(const std::string& device, const nlohmann::json& patch);
  // How a method call ended: the device answered (its status and payload), or the hub answers
  // for it (404 with 404103 when it is not online, 504 with 504101 when it was late).
  struct Outcome {
    bool answered = false;
    int status = 0;
    std::string body;
  };
  using Answered = std::function<void(const Outcome&)>;
  // Calls a method; a device that is not online is waited for up to `connect_timeout`, then
  // its answer up to `timeout` (see sweep).
  void invoke(const std::string& device, const std::string& method, const std::string& payload,
              std::chrono::milliseconds timeout, std::chrono::milliseconds connect_timeout,
              std::int64_t now_ms, Answered done);
  bool methods_online(const std::string& device) const;
  void sweep(std::int64_t now_ms);

 private:
  struct TwinLink {
    proton::sender out;
    bool watching = false;
  };
  struct Call {
    std::string device;
    Answered done;
    std::int64_t deadline_ms = 0;
  };
  struct Waiting {  // a call for a device that is not online yet
    std::string method, payload;
    std::chrono::milliseconds timeout;
    std::int64_t connect_deadline_ms = 0;
    Answered done;
  };
  void send_call(const std::string& device, const std::string& method, const std::string& payload,
                 std::chrono::milliseconds timeout, std::int64_t now_ms, Answered done);
  void answer_twin(const std::string& device, const proton::message& request, int status,
                   std::int64_t version, const std::string& body);
  void finish(const Answered& done, MethodResult result, const Outcome& outcome);
  // Forgets the methods links `gone` picks and answers their devices' pending calls.
  void went_offline(const std::function<bool(const proton::sender&)>& gone);

  TwinStore& twins_;
  OperationMetrics& metrics_;
  Logger& log_;
  std::map<std::string, TwinLink> twin_;           // by device
  std::map<std::string, proton::sender> methods_;  // by device
  std::map<std::string, Call> calls_;              // by correlation id
  std::multimap<std::string, Waiting> waiting_;    // by device
  std::uint64_t next_call_ = 1;
};

}  // namespace iotgw::hub
