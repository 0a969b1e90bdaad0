// The telemetry senders of one hub connection and what waits for their credit. With IoT Hub each
// device has a link of its own (its address is its own); with a broker, one link per target
// address is shared by every device that sends there, each in a session of its own. QoS 1 goes
// unsettled and durable and is kept whole until the hub's outcome: after a lost connection it
// is sent again, in the order the devices sent it (at least once). QoS 0 goes pre-settled.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <proton/connection.hpp>
#include <proton/message.hpp>
#include <proton/sender.hpp>
#include <proton/session.hpp>
#include <proton/tracker.hpp>

#include "bridge/bridge.hpp"

namespace iotgw::bridge {

class TelemetryOutboxes {
 public:
  using Completion = BridgeDevice::Completion;
  struct Settings {
    bool iothub = true;   // a link per device, with the SDKs' link properties
    bool durable = true;  // QoS 1 as durable messages; a broker's termini durable too
  };
  // What the outboxes ask of whoever holds the devices.
  struct Hooks {
    // The device's token is in: its own link may attach.
    std::function<bool(const std::string& device)> may_attach;
    // One of the device's messages joined a queue (true) or left it for the wire (false).
    std::function<void(const std::string& device, bool joined)> counted;
    // The hub closed the device's own link: the device must go, with this reason.
    std::function<void(const std::string& device, const std::string& why)> link_closed;
    // Something an operator should see: a broker refused an address or ended its session.
    std::function<void(const std::string& what)> warn;
  };

  TelemetryOutboxes(Settings settings, Hooks hooks)
      : settings_(settings), hooks_(std::move(hooks)) {}

  // Queues `msg` for `address` and sends what credit allows. `c` is the open connection, or an
  // empty one while there is none: the message then waits for open_device/open_all.
  void send(const proton::connection& c, const std::string& device, const std::string& address,
            proton::message msg, bool confirmed, Completion done);
  // The device may send now (its token was taken): its links attach, what waits in them goes.
  void open_device(const proton::connection& c, const std::string& device);
  // Without per-device tokens: every link attaches on a new connection.
  void open_all(const proton::connection& c);
  // The device went away. Its QoS 1 messages, waiting or in flight, are answered "released"
  // (the device sends them again); its QoS 0 ones (a will, typically) stay to go out.
  void remove_device(const std::string& device);
  // The connection is gone: what was in flight goes back in front of its queue, in order.
  void connection_lost();

  // Proton's events; those on links that are not these are ignored.
  void on_sendable(proton::sender& s);
  void on_outcome(proton::tracker& t, iotgw_outcome outcome, const std::string& reason);
  void on_sender_close(proton::sender& s);
  // A broker that refuses an address may end the session: what was sent there fails.
  void on_session_error(proton::session& s, const std::string& why);

  // An empty message to fill and send: one the hub answered, cleared. Building a new
  // proton::message allocates its codec buffers, and doing so (then freeing them) per message
  // was a quarter of the gateway's time.
  proton::message spare_message();
  std::size_t in_flight() const { return in_flight_.size(); }

 private:
  struct Pending {
    std::string device;
    proton::message msg;
    bool confirmed;
    Completion done;
    std::uint64_t order = 0;  // keeps resends in the order the devices sent them
    // Counted in its device's queue (hooks.counted). A QoS 0 leftover of a device that went
    // away is not: the device may be back (a new count from zero) before the leftover goes, and
    // counting it out then drove the new count below zero.
    bool counted = true;
  };
  struct Outbox {
    std::string owner;      // IoT Hub: the device whose link it is
    std::size_t users = 0;  // devices attached that have sent here
    proton::sender link;
    std::list<Pending> waiting;  // not a deque: an empty one allocates, and most are empty
  };
  struct InFlight {
    std::string address;
    Pending pending;
  };
  using Boxes = std::map<std::string, Outbox>;

  void open(proton::connection c, const std::string& address, Outbox& box);
  void flush(const std::string& address, Outbox& box);
  void fail(Boxes::iterator box, iotgw_outcome outcome, const std::string& reason);
  void close_if_unused(Boxes::iterator box);
  void recycle(proton::message&& m);
  // Moves the completions of the in-flight deliveries `match` picks into `out`: answered once
  // the outboxes are consistent again, since a completion may call back into them.
  template <class Match>
  void take_in_flight(Match match, std::vector<Completion>& out);
  static void complete(std::vector<Completion>& dones, iotgw_outcome outcome,
                       const std::string& reason);

  Settings settings_;
  Hooks hooks_;
  Boxes boxes_;                                                    // by target address
  std::map<std::string, std::set<std::string>> device_addresses_;  // where each device sent
  std::map<proton::link, std::string> link_address_;  // a sender's events find its outbox
  // Sent, no outcome yet. Kept whole: after a lost connection they are sent again.
  std::map<proton::tracker, InFlight> in_flight_;
  std::uint64_t next_order_ = 1;
  static constexpr std::size_t kSpareMessages = 1024;
  std::vector<proton::message> spare_;
};

}  // namespace iotgw::bridge
