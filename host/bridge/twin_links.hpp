// IoT Hub's device twin over AMQP, per device: a link pair on /devices/{id}/twin, attached only
// when the device first asks for its twin (an idle device costs no link). A request is a message
// with a correlation id and the annotations `operation` (GET, PATCH, PUT, DELETE) and `resource`;
// the answer carries the same correlation id and the annotations `status` and `version`. A
// message with no correlation id is a desired-property patch, sent only while the device watches
// them (PUT /notifications/twin/properties/desired); after a reconnect the watch is put again,
// and the twin read: a desired change the device missed meanwhile reaches it as a patch of the
// whole desired section, since the device's own connection stayed up and it will not ask.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/link.hpp>
#include <proton/message.hpp>

#include "bridge/link_pair.hpp"
#include "bridge/operations.hpp"

namespace iotgw::bridge {

class TwinLinks {
 public:
  // A desired-property patch for a device.
  using Notify = std::function<void(const std::string& device, const HubRequest& patch)>;
  // Something went wrong that no request is waiting to hear (a refused re-watch, a closed link).
  using Warn = std::function<void(const std::string& device, const std::string& what)>;

  TwinLinks(std::string address, Notify notify, Warn warn);

  // Sends `op` (a twin kind) for the device on `c` (empty: no connection, answered 503). `done`
  // runs exactly once: with the hub's answer, 503 when the link or connection is lost first, or
  // 504 once `now_ms` passes the op's timeout (see expire).
  void request(const proton::connection& c, const std::string& device, const Operation& op,
               std::int64_t now_ms, OperationDone done);
  // The device is (again) authorised on `c`: a device that watches its desired properties gets
  // its link pair and the watch back (after a reconnect, say).
  void restore(const proton::connection& c, const std::string& device, std::int64_t now_ms);
  // The device went away: its links close; nothing it asked is answered any more.
  void remove(const std::string& device);
  // The connection is gone: every waiting request is answered 503.
  void reset();
  // Answers 504 to every request older than its timeout.
  void expire(std::int64_t now_ms);
  std::size_t waiting() const { return waiting_.size(); }
  bool has_links(const std::string& device) const;

  // Proton's events; each returns false when the link is not one of these.
  bool on_message(proton::delivery& d, const proton::message& m);
  bool on_link_close(proton::link& l);

 private:
  struct Device {
    LinkPair links;
    bool watching = false;
    std::int64_t desired_version = -1;  // the newest desired version the device was given
  };
  struct Waiting {
    std::string device;
    OperationDone done;  // empty: the bridge's own (a re-watch)
    std::int64_t deadline_ms = 0;
    iotgw_op_kind kind = IOTGW_OP_TWIN_GET;
    bool for_device = true;  // false: the bridge's own (a re-watch, a catch-up read)
  };
  // The device was given this twin (a GET) or patch: remember the desired version it saw.
  void saw(const std::string& device, std::int64_t desired_version);
  // After a re-watch: a desired change made while the links were down reaches the device now.
  void catch_up(const std::string& device, const OperationResult& twin);

  Device& attach(const proton::connection& c, const std::string& device);
  // `for_device`: the device asked (not the bridge, for a re-watch or a catch-up read).
  void send(const std::string& device, const Operation& op, std::int64_t now_ms, OperationDone done,
            bool for_device);
  void drop_links(Device& d);  // closes the pair and forgets its links' owner
  void fail_device(const std::string& device, const OperationResult& why);

  std::string address_;
  Notify notify_;
  Warn warn_;
  std::map<std::string, Device> devices_;
  std::map<std::string, Waiting> waiting_;  // by correlation id
  std::map<proton::link, std::string> link_device_;
  std::uint64_t next_ = 1;  // correlation ids and channel ids, unique per connection
};

}  // namespace iotgw::bridge
