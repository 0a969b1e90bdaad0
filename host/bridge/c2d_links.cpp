#include "bridge/c2d_links.hpp"

#include <proton/receiver_options.hpp>
#include <proton/source_options.hpp>

#include "bridge/link_options.hpp"
#include "bridge/message_codec.hpp"

namespace iotgw::bridge {

C2dLinks::C2dLinks(Settings settings, Deliver deliver, Closed closed)
    : settings_(std::move(settings)), deliver_(std::move(deliver)), closed_(std::move(closed)) {}

bool C2dLinks::is_open(const std::string& device) const {
  auto it = links_.find(device);
  return it != links_.end() && static_cast<bool>(it->second.receiver);
}

void C2dLinks::open(proton::connection c, const std::string& device) {
  if (!enabled() || !c) return;
  auto& l = links_[device];
  if (l.receiver) return;
  auto opts = proton::receiver_options().auto_accept(false).credit_window(16);
  auto terminus = durable_terminus<proton::source_options>(settings_.durable);
  if (settings_.iothub) {
    opts.properties(iothub_link_properties());
  } else {
    opts.source(terminus);
  }
  l.receiver = session_for(c, settings_.iothub)
                   .open_receiver(expand_address(settings_.address, device), opts);
  link_device_[l.receiver] = device;
}

void C2dLinks::forget_link(Link& l) {
  link_device_.erase(l.receiver);
  l.receiver = proton::receiver();
  l.unsettled.clear();
}

void C2dLinks::close(const std::string& device) {
  auto it = links_.find(device);
  if (it == links_.end() || !it->second.receiver) return;
  auto& l = it->second;
  close_link(l.receiver, settings_.iothub);
  forget_link(l);
}

void C2dLinks::remove(const std::string& device) {
  auto it = links_.find(device);
  if (it == links_.end()) return;
  auto& l = it->second;
  for (auto& [n, delivery] : l.unsettled) delivery.release();
  if (l.receiver) close_link(l.receiver, settings_.iothub);
  link_device_.erase(l.receiver);
  links_.erase(it);
}

void C2dLinks::reset() {
  link_device_.clear();
  for (auto& [device, l] : links_) {
    l.receiver = proton::receiver();
    l.unsettled.clear();
  }
}

bool C2dLinks::on_message(proton::delivery& d, const proton::message& m) {
  auto owner = link_device_.find(d.receiver());
  if (owner == link_device_.end()) return false;
  const std::string device = owner->second;
  auto it = links_.find(device);
  if (it == links_.end() || it->second.receiver != d.receiver()) {
    d.release();
    return true;
  }
  auto& l = it->second;
  const std::uint64_t n = l.next_delivery++;
  l.unsettled[n] = d;
  // A broker's own word that it delivered this before: from a broker, the AMQP header's
  // first-acquirer as well (IoT Hub's C2D carries no meaningful header, its annotation says).
  auto from = from_hub(m, device, !settings_.iothub);
  auto msg = std::make_unique<iotgw_msg>(std::move(from.msg));
  msg->scope(IOTGW_PROP_SYSTEM).set("delivery-count", std::to_string(from.earlier_deliveries));
  if (!deliver_(device, std::move(msg), n)) {
    // The device cannot take it: the hub keeps it. (Looked up again: deliver_ may have
    // changed the links.)
    auto again = links_.find(device);
    if (again != links_.end() && again->second.unsettled.erase(n) != 0) d.release();
  }
  return true;
}

void C2dLinks::settle(const std::string& device, std::uint64_t n, iotgw_outcome outcome) {
  auto it = links_.find(device);
  if (it == links_.end()) return;
  auto u = it->second.unsettled.find(n);
  if (u == it->second.unsettled.end()) return;
  switch (outcome) {
    case IOTGW_ACCEPTED: u->second.accept(); break;
    case IOTGW_REJECTED: u->second.reject(); break;
    case IOTGW_MODIFIED:
      // Some brokers (RabbitMQ) end the session on `modified`; released means the same there.
      if (settings_.iothub) {
        u->second.modify();
      } else {
        u->second.release();
      }
      break;
    default: u->second.release(); break;
  }
  it->second.unsettled.erase(u);
}

bool C2dLinks::on_receiver_close(proton::receiver& r) {
  auto owner = link_device_.find(r);
  if (owner == link_device_.end()) return false;
  const std::string device = owner->second;
  auto it = links_.find(device);
  if (it != links_.end() && it->second.receiver == r) forget_link(it->second);
  if (!r.error().empty()) closed_(device, "the hub closed its C2D link: " + r.error().what());
  return true;
}

void C2dLinks::on_session_error(proton::session& s) {
  const std::string why = s.error().what();
  for (auto& [device, l] : links_) {
    if (!l.receiver || l.receiver.session() != s) continue;
    forget_link(l);
    closed_(device, "the hub ended its C2D session: " + why);
  }
}

}  // namespace iotgw::bridge
