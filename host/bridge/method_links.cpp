#include "bridge/method_links.hpp"

#include <proton/binary.hpp>
#include <proton/sender.hpp>

#include "bridge/link_options.hpp"
#include "iotgw/common/amqp_text.hpp"

namespace iotgw::bridge {

MethodLinks::MethodLinks(std::string address, Call call, Warn warn)
    : address_(std::move(address)), call_(std::move(call)), warn_(std::move(warn)) {}

bool MethodLinks::enabled(const std::string& device) const {
  auto it = devices_.find(device);
  return it != devices_.end() && it->second.wanted;
}

void MethodLinks::attach(const proton::connection& c, const std::string& device, Device& d) {
  d.links.attach(c, expand_address(address_, device), "methods:" + std::to_string(next_channel_++));
  link_device_[d.links.sender] = device;
  link_device_[d.links.receiver] = device;
}

void MethodLinks::enable(const proton::connection& c, const std::string& device,
                         std::chrono::milliseconds timeout, std::int64_t now_ms,
                         OperationDone done) {
  if (!c) {
    done(OperationResult::local(kStatusUnavailable, "no connection to the hub"));
    return;
  }
  auto& d = devices_[device];
  d.wanted = true;
  if (d.links.attached() && d.links.sender.active()) {
    done({200, -1, {}, {}});
    return;
  }
  d.enabling.push_back({std::move(done), now_ms + timeout.count()});
  if (!d.links.attached()) attach(c, device, d);
}

void MethodLinks::answer_enabling(Device& d, const OperationResult& r) {
  auto enabling = std::move(d.enabling);
  d.enabling.clear();
  for (auto& e : enabling) e.done(r);
}

void MethodLinks::drop_links(Device& d) {
  link_device_.erase(d.links.sender);
  link_device_.erase(d.links.receiver);
  d.calls.clear();  // the hub answers its callers itself once the link is gone
  d.links.close();
}

void MethodLinks::disable(const std::string& device) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  auto& d = it->second;
  d.wanted = false;
  drop_links(d);
  answer_enabling(d, OperationResult::local(kStatusUnavailable, "methods disabled"));
}

void MethodLinks::restore(const proton::connection& c, const std::string& device) {
  auto it = devices_.find(device);
  if (!c || it == devices_.end() || !it->second.wanted || it->second.links.attached()) return;
  attach(c, device, it->second);
}

void MethodLinks::remove(const std::string& device) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  drop_links(it->second);
  devices_.erase(it);
}

void MethodLinks::reset() {
  link_device_.clear();
  for (auto& [device, d] : devices_) {
    d.links.forget();
    d.calls.clear();
    answer_enabling(d, OperationResult::local(kStatusUnavailable, "the hub connection was lost"));
  }
}

void MethodLinks::expire(std::int64_t now_ms) {
  for (auto& [device, d] : devices_) {
    for (auto it = d.enabling.begin(); it != d.enabling.end();) {
      if (it->deadline_ms > now_ms) {
        ++it;
        continue;
      }
      auto done = std::move(it->done);
      it = d.enabling.erase(it);
      done(OperationResult::local(kStatusTimeout, "the hub did not attach the methods link"));
    }
  }
}

bool MethodLinks::respond(const std::string& device, std::uint64_t id, int status,
                          const std::string& body) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return false;
  auto& d = it->second;
  auto call = d.calls.find(id);
  if (call == d.calls.end() || !d.links.attached()) return false;
  proton::message m;
  m.correlation_id(call->second);
  m.properties().put("IoThub-status", static_cast<std::int32_t>(status));
  set_data_body(m, body);
  d.calls.erase(call);
  d.links.sender.send(m);
  return true;
}

bool MethodLinks::on_message(proton::delivery& dl, const proton::message& m) {
  auto owner = link_device_.find(dl.receiver());
  if (owner == link_device_.end()) return false;
  auto& d = devices_.at(owner->second);
  HubRequest call{.kind = IOTGW_HUB_METHOD_CALL, .id = 0, .name = {}, .body = {}, .version = -1};
  if (m.properties().exists("IoThub-methodname")) {
    call.name = amqp_text(m.properties().get("IoThub-methodname"));
  }
  if (call.name.empty() || m.correlation_id().empty()) {
    warn_(owner->second, "a method call from the hub without a method name or correlation id");
    return true;
  }
  call.body = amqp_text(m.body());
  call.id = d.next_call++;
  d.calls[call.id] = m.correlation_id();
  call_(owner->second, call);
  return true;
}

bool MethodLinks::on_sender_open(proton::sender& s) {
  auto owner = link_device_.find(s);
  if (owner == link_device_.end()) return false;
  auto& d = devices_.at(owner->second);
  // A refusal is an attach and a detach, and Proton writes a batch's attaches before its
  // detaches: by the sender's attach, a refusal of either link in the same batch has been read
  // (its error is set), and its close event, which answers 503, is still to come.
  if (d.links.sender == s && d.links.receiver && d.links.receiver.error().empty() &&
      s.error().empty()) {
    answer_enabling(d, {200, -1, {}, {}});
  }
  return true;
}

bool MethodLinks::on_link_close(proton::link& l) {
  auto owner = link_device_.find(l);
  if (owner == link_device_.end()) return false;
  const std::string device = owner->second;
  auto& d = devices_.at(device);
  const std::string why = l.error().empty()
                              ? std::string("the hub closed the methods link")
                              : "the hub closed the methods link: " + l.error().what();
  drop_links(d);
  warn_(device, why);
  answer_enabling(d, OperationResult::local(kStatusUnavailable, why));
  return true;
}

}  // namespace iotgw::bridge
