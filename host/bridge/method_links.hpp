// IoT Hub's direct methods over AMQP, per device: a link pair on /devices/{id}/methods/devicebound,
// attached when the device enables methods (attaching is IoT Hub's subscription; there is no
// request for it) and again after every reconnect while it wants them. A call arrives with a
// correlation id and the application property `IoThub-methodname`; the device's answer goes back
// with the same correlation id and `IoThub-status`. A call the device never answers is the hub's
// to time out.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/link.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/sender.hpp>

#include "bridge/link_pair.hpp"
#include "bridge/operations.hpp"

namespace iotgw::bridge {

class MethodLinks {
 public:
  using Call = std::function<void(const std::string& device, const HubRequest& call)>;
  using Warn = std::function<void(const std::string& device, const std::string& what)>;

  MethodLinks(std::string address, Call call, Warn warn);

  // Attaches the device's pair on `c` (empty: answered 503). `done` runs once: 200 when the hub
  // has attached both links, 503 when it refuses it or the connection goes first, 504 after
  // the timeout.
  void enable(const proton::connection& c, const std::string& device,
              std::chrono::milliseconds timeout, std::int64_t now_ms, OperationDone done);
  // Detaches; the hub then answers its callers that the device is not listening.
  void disable(const std::string& device);
  // The device is (again) authorised on `c`: one that enabled methods gets its pair back.
  void restore(const proton::connection& c, const std::string& device);
  void remove(const std::string& device);
  void reset();
  void expire(std::int64_t now_ms);
  bool enabled(const std::string& device) const;

  // The device's answer to call `id`; false when there is no such call waiting.
  bool respond(const std::string& device, std::uint64_t id, int status, const std::string& body);

  // Proton's events; each returns false when the link is not one of these.
  bool on_message(proton::delivery& d, const proton::message& m);
  bool on_sender_open(proton::sender& s);
  bool on_link_close(proton::link& l);

 private:
  struct Enabling {
    OperationDone done;
    std::int64_t deadline_ms = 0;
  };
  struct Device {
    LinkPair links;
    bool wanted = false;
    std::vector<Enabling> enabling;                     // waiting for the receiver's attach
    std::map<std::uint64_t, proton::message_id> calls;  // by the id the device answers
    std::uint64_t next_call = 1;
  };

  void attach(const proton::connection& c, const std::string& device, Device& d);
  void answer_enabling(Device& d, const OperationResult& r);
  void drop_links(Device& d);  // closes the pair; its calls are the hub's to answer

  std::string address_;
  Call call_;
  Warn warn_;
  std::map<std::string, Device> devices_;
  std::map<proton::link, std::string> link_device_;
  std::uint64_t next_channel_ = 1;
};

}  // namespace iotgw::bridge
