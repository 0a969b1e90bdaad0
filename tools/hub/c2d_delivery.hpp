// Cloud-to-device over AMQP, both ends, over the hub's C2D queues: what a service sends to
// /messages/devicebound goes into a device's queue, and out on the device's own
// /devices/{id}/messages/devicebound link with IoT Hub's lock, delivery count and sequence; the
// device's disposition completes, abandons or dead-letters it; and the feedback records a service
// asked for (iothub-ack) go out on /messages/serviceBound/feedback. Runs on the hub's Proton
// thread, as HubServer does, which hands it the links and events that are C2D's.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <proton/connection.hpp>
#include <proton/delivery.hpp>
#include <proton/message.hpp>
#include <proton/sender.hpp>
#include <proton/tracker.hpp>

#include "c2d_queue.hpp"
#include "durable_log.hpp"
#include "hub_metrics.hpp"
#include "iotgw/common/log.hpp"
#include "iotgw/common/registry.hpp"

namespace iotgw::hub {

struct C2dDeliveryLimits {
  C2dLimits queues;
  std::size_t max_message_bytes = 64 * 1024;
  std::size_t max_feedback_records = 10'000;
};

class C2dDelivery {
 public:
  // `durable` is where accepted and ended messages are written (the hub may replace its log at
  // start); `registry` says which devices exist; `metrics` counts each message's transitions.
  C2dDelivery(C2dDeliveryLimits limits, std::function<DurableLog&()> durable,
              std::function<std::shared_ptr<const Registry>()> registry, C2dMetrics& metrics,
              Logger& log);

  // The queues themselves: a data dir replays into them and compacts from them.
  C2dQueues& queues() { return queues_; }

  // A service's message to a device: accepted once queued (and written), or rejected with why.
  void service_send(proton::delivery& d, const proton::message& m);
  void feedback_attached(const proton::sender& s);
  // A device's receiving link: its queue flows out on it.
  void device_attached(const std::string& device, const proton::sender& s);
  // The device's link, if it has one (one connection per device: a newer one takes it over).
  proton::sender link_of(const std::string& device) const;

  // Proton's events for C2D's links; each returns false when the link or tracker is not C2D's.
  bool on_sendable(proton::sender& s);
  bool on_accept(proton::tracker& t);
  bool on_reject(proton::tracker& t);
  bool on_release(proton::tracker& t);
  void link_closed(const proton::sender& s);
  void connection_closed(const proton::connection& c);
  // Closes the C2D links on `c` of devices in `gone`, and the feedback links when `service_gone`.
  void revoke(const proton::connection& c, const std::set<std::string>& gone, bool service_gone,
              const proton::error_condition& why);
  // Locks that ran out and messages that expired: what is due goes out again.
  void sweep();

 private:
  struct Outstanding {  // a message on its way to a device
    std::string device;
    std::string lock;
  };
  void pump(const std::string& device);
  void pump_feedback();
  void unbind(const proton::sender& s);  // only if s is still the device's link
  void ended(const C2dMessage& m, C2dEnd how, const std::string& why);
  void refuse(proton::delivery& d, C2dRefusal reason, const std::string& condition,
              const std::string& why);

  C2dDeliveryLimits limits_;
  std::function<DurableLog&()> durable_;
  std::function<std::shared_ptr<const Registry>()> registry_;
  C2dMetrics& metrics_;
  Logger& log_;
  C2dQueues queues_;
  std::map<std::string, proton::sender> device_link_;  // device id -> its receiving link
  std::map<proton::sender, std::string> link_device_;  // and back, for that link's events
  std::map<proton::tracker, Outstanding> outstanding_;
  std::set<proton::sender> feedback_links_;
  std::deque<std::string> feedback_;  // JSON records waiting for a feedback receiver
  proton::message delivery_;  // pump(): each delivery decoded here, with its own annotations
};

}  // namespace iotgw::hub
