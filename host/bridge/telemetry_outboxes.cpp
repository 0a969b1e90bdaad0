#include "bridge/telemetry_outboxes.hpp"

#include <algorithm>

#include <proton/error_condition.hpp>
#include <proton/sender_options.hpp>
#include <proton/target_options.hpp>

#include "bridge/link_options.hpp"

namespace iotgw::bridge {

void TelemetryOutboxes::send(const proton::connection& c, const std::string& device,
                             const std::string& address, proton::message msg, bool confirmed,
                             Completion done) {
  // Acknowledged means stored: a broker's `accepted` for a non-durable message means only that
  // it is in memory, and a broker crash then loses what the device was told was delivered.
  if (confirmed && settings_.durable) msg.durable(true);
  auto& box = boxes_[address];
  if (settings_.iothub) box.owner = device;
  if (device_addresses_[device].insert(address).second) ++box.users;
  box.waiting.push_back({device, std::move(msg), confirmed, std::move(done), next_order_++});
  hooks_.counted(device, true);
  open(c, address, box);
  flush(address, box);
}

void TelemetryOutboxes::open(proton::connection c, const std::string& address, Outbox& box) {
  if (box.link || !c) return;
  if (!box.owner.empty() && !hooks_.may_attach(box.owner)) return;  // its token first
  proton::sender_options opts;
  auto terminus = durable_terminus<proton::target_options>(settings_.durable);
  if (settings_.iothub) {
    opts.properties(iothub_link_properties());
  } else {
    opts.target(terminus);
  }
  box.link = session_for(c, settings_.iothub).open_sender(address, opts);
  link_address_[box.link] = address;
}

void TelemetryOutboxes::open_device(const proton::connection& c, const std::string& device) {
  // A telemetry link opens with the device's first message, not at login: a Proton link is some
  // 3 KiB, most of an idle device's cost. After a reconnect, the links a device had open again
  // at once, for what waits in them.
  auto addresses = device_addresses_.find(device);
  if (addresses == device_addresses_.end()) return;
  for (const auto& address : addresses->second) {
    auto box = boxes_.find(address);
    if (box == boxes_.end()) continue;
    open(c, address, box->second);
    flush(address, box->second);
  }
}

void TelemetryOutboxes::open_all(const proton::connection& c) {
  for (auto& [address, box] : boxes_) {
    open(c, address, box);
    flush(address, box);
  }
}

void TelemetryOutboxes::flush(const std::string& address, Outbox& box) {
  while (box.link && box.link.active() && box.link.credit() > 0 && !box.waiting.empty()) {
    Pending p = std::move(box.waiting.front());
    box.waiting.pop_front();
    const std::string device = p.device;
    const bool counted = p.counted;
    proton::tracker t = box.link.send(p.msg);
    if (p.confirmed) {
      in_flight_[t] = {address, std::move(p)};
    } else {
      t.settle();
      recycle(std::move(p.msg));
    }
    if (counted) hooks_.counted(device, false);
  }
}

template <class Match>
void TelemetryOutboxes::take_in_flight(Match match, std::vector<Completion>& out) {
  for (auto f = in_flight_.begin(); f != in_flight_.end();) {
    if (match(f->first, f->second)) {
      out.push_back(std::move(f->second.pending.done));
      f = in_flight_.erase(f);
    } else {
      ++f;
    }
  }
}

void TelemetryOutboxes::complete(std::vector<Completion>& dones, iotgw_outcome outcome,
                                 const std::string& reason) {
  for (auto& done : dones) {
    if (done) done(outcome, reason);
  }
}

void TelemetryOutboxes::remove_device(const std::string& device) {
  std::vector<Completion> released;
  take_in_flight(
      [&](const proton::tracker&, const InFlight& f) { return f.pending.device == device; },
      released);
  if (auto addresses = device_addresses_.find(device); addresses != device_addresses_.end()) {
    for (const auto& address : addresses->second) {
      auto box = boxes_.find(address);
      if (box == boxes_.end()) continue;
      auto& waiting = box->second.waiting;
      for (auto p = waiting.begin(); p != waiting.end();) {
        if (p->device == device && p->confirmed) {
          released.push_back(std::move(p->done));
          p = waiting.erase(p);
        } else {
          if (p->device == device) p->counted = false;  // counted out with the device
          ++p;
        }
      }
      --box->second.users;
      close_if_unused(box);
    }
    device_addresses_.erase(addresses);
  }
  complete(released, IOTGW_RELEASED, "the device went away");
}

void TelemetryOutboxes::connection_lost() {
  // What was in flight got no outcome: it goes back in front of its outbox, in the order sent,
  // and is sent again once the link is back. The devices are not told anything until then.
  std::vector<InFlight> unsent;
  for (auto& [tracker, f] : in_flight_) unsent.push_back(std::move(f));
  in_flight_.clear();
  std::sort(unsent.begin(), unsent.end(),
            [](const InFlight& a, const InFlight& b) { return a.pending.order > b.pending.order; });
  for (auto& f : unsent) {
    hooks_.counted(f.pending.device, true);
    boxes_[f.address].waiting.push_front(std::move(f.pending));
  }
  // Outboxes no device uses any more held only QoS 0 leftovers: at most once, so they go.
  std::erase_if(boxes_, [](const auto& kv) { return kv.second.users == 0; });
  for (auto& [address, box] : boxes_) box.link = proton::sender();
  link_address_.clear();
}

void TelemetryOutboxes::fail(Boxes::iterator box, iotgw_outcome outcome,
                             const std::string& reason) {
  std::vector<Completion> failed;
  take_in_flight([&](const proton::tracker&, const InFlight& f) { return f.address == box->first; },
                 failed);
  for (auto& p : box->second.waiting) {
    failed.push_back(std::move(p.done));
    if (p.counted) hooks_.counted(p.device, false);
  }
  for (auto& [device, addresses] : device_addresses_) addresses.erase(box->first);
  link_address_.erase(box->second.link);
  boxes_.erase(box);
  complete(failed, outcome, reason);
}

void TelemetryOutboxes::close_if_unused(Boxes::iterator box) {
  if (box->second.users > 0 || !box->second.waiting.empty()) return;
  if (box->second.link) close_link(box->second.link, settings_.iothub);
  link_address_.erase(box->second.link);
  boxes_.erase(box);
}

void TelemetryOutboxes::on_sendable(proton::sender& s) {
  auto a = link_address_.find(s);
  if (a == link_address_.end()) return;
  auto box = boxes_.find(a->second);
  if (box == boxes_.end() || box->second.link != s) return;
  flush(box->first, box->second);
  close_if_unused(box);
}

void TelemetryOutboxes::on_outcome(proton::tracker& t, iotgw_outcome outcome,
                                   const std::string& reason) {
  auto it = in_flight_.find(t);
  if (it == in_flight_.end()) return;
  auto done = std::move(it->second.pending.done);
  recycle(std::move(it->second.pending.msg));
  in_flight_.erase(it);
  if (done) done(outcome, reason);
}

void TelemetryOutboxes::on_sender_close(proton::sender& s) {
  auto a = link_address_.find(s);
  if (a == link_address_.end()) return;
  auto box = boxes_.find(a->second);
  if (box == boxes_.end() || box->second.link != s) return;
  const std::string why = "the hub closed the link to " + box->first + ": " + s.error().what();
  if (box->second.owner.empty()) {
    // A shared link the broker refused or detached: what waits for it will not go there.
    hooks_.warn(why);
    fail(box, IOTGW_REJECTED, why);
    return;
  }
  if (box->second.users == 0) {
    // Only QoS 0 leftovers of a device that went away (at most once): nothing will send them,
    // and the device, if it is back elsewhere, is not this link's to close.
    link_address_.erase(a);
    boxes_.erase(box);
    return;
  }
  // The device's own link: deliveries on it get no outcome, they were not accepted; the device
  // is closed with the hub's reason.
  std::vector<Completion> released;
  take_in_flight([&](const proton::tracker& t, const InFlight&) { return t.sender() == s; },
                 released);
  link_address_.erase(a);
  box->second.link = proton::sender();
  hooks_.link_closed(box->second.owner, why);
  complete(released, IOTGW_RELEASED, why);
}

void TelemetryOutboxes::on_session_error(proton::session& s, const std::string& why) {
  for (auto box = boxes_.begin(); box != boxes_.end();) {
    auto next = std::next(box);
    if (box->second.link && box->second.link.session() == s) {
      hooks_.warn("the hub ended the session of " + box->first + ": " + why);
      fail(box, IOTGW_REJECTED, "the hub refused " + box->first + ": " + why);
    }
    box = next;
  }
}

proton::message TelemetryOutboxes::spare_message() {
  if (spare_.empty()) return {};
  proton::message m = std::move(spare_.back());
  spare_.pop_back();
  return m;
}

void TelemetryOutboxes::recycle(proton::message&& m) {
  if (spare_.size() >= kSpareMessages) return;
  m.clear();
  m.properties().clear();
  m.message_annotations().clear();
  m.delivery_annotations().clear();
  spare_.push_back(std::move(m));
}

}  // namespace iotgw::bridge
