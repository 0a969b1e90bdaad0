// The cloud-to-device receivers of one hub connection: one per device that asked for C2D, with
// a credit of 16 and nothing settled until the device has answered. Each delivery gets a number
// of its own per device, by which the adapter settles it; the numbers go on rising across links
// while the device stays attached, so a late settle from an old link can never hit a new
// delivery.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/message.hpp>
#include <proton/receiver.hpp>
#include <proton/session.hpp>

#include "iotgw/abi.h"
#include "runtime/message.hpp"

namespace iotgw::bridge {

class C2dLinks {
 public:
  struct Settings {
    std::string address;  // {deviceId} is replaced; empty: no C2D
    bool iothub = true;   // IoT Hub: the SDKs' link properties; `modified` is understood
    // A broker: each link in a session of its own (RabbitMQ ends the session when it refuses an
    // address), durable termini, and first-acquirer taken as a redelivery mark.
    bool durable = true;
  };
  // Hands a message to the device; false if the device can take nothing now (it is released).
  using Deliver = std::function<bool(const std::string& device, std::unique_ptr<iotgw_msg> msg,
                                     std::uint64_t delivery)>;
  // The hub closed a device's link or ended its session; its unsettled deliveries are the
  // hub's again.
  using Closed = std::function<void(const std::string& device, const std::string& why)>;

  C2dLinks(Settings settings, Deliver deliver, Closed closed);

  bool enabled() const { return !settings_.address.empty(); }
  bool is_open(const std::string& device) const;
  // Attaches the device's receiver if it has none (and there is a connection: `c` not empty).
  void open(proton::connection c, const std::string& device);
  // The device wants no more: its link closes, and what the hub still holds stays there.
  void close(const std::string& device);
  // The device went away: what it did not settle is released (the hub delivers it again).
  void remove(const std::string& device);
  // The connection is gone: the hub releases every unsettled delivery itself.
  void reset();

  // Proton's events; each returns false when the link is not one of these.
  bool on_message(proton::delivery& d, const proton::message& m);
  bool on_receiver_close(proton::receiver& r);
  void on_session_error(proton::session& s);

  // The device's answer to delivery `n`.
  void settle(const std::string& device, std::uint64_t n, iotgw_outcome outcome);

 private:
  struct Link {
    proton::receiver receiver;
    std::map<std::uint64_t, proton::delivery> unsettled;
    std::uint64_t next_delivery = 1;
  };
  void forget_link(Link& l);

  Settings settings_;
  Deliver deliver_;
  Closed closed_;
  std::map<std::string, Link> links_;                // by device
  std::map<proton::link, std::string> link_device_;  // a link's events find their device
};

}  // namespace iotgw::bridge
