#include "c2d_delivery.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include <nlohmann/json.hpp>
#include <proton/annotation_key.hpp>
#include <proton/message_id.hpp>
#include <proton/symbol.hpp>
#include <proton/timestamp.hpp>

#include "addresses.hpp"
#include "iotgw/common/amqp_text.hpp"
#include "iotgw/common/clock.hpp"
#include "json_text.hpp"
#include "message_facts.hpp"
#include "reject_with.hpp"

namespace iotgw::hub {

C2dDelivery::C2dDelivery(C2dDeliveryLimits limits, std::function<DurableLog&()> durable,
                         std::function<std::shared_ptr<const Registry>()> registry,
                         C2dMetrics& metrics, Logger& log)
    : limits_(limits),
      durable_(std::move(durable)),
      registry_(std::move(registry)),
      metrics_(metrics),
      log_(log),
      queues_(
          limits.queues,
          [this](const C2dMessage& m, C2dEnd how, const std::string& why) { ended(m, how, why); },
          [this](const C2dMessage& m) {
            metrics_.abandoned.inc();
            try {
              durable_().c2d_abandoned(m.device_id, m.sequence);
            } catch (const std::exception& e) {
              // The count is one lower after a restart; nothing is lost.
              log_.error("hub", e.what());
            }
          }) {}

void C2dDelivery::device_attached(const std::string& device, const proton::sender& s) {
  if (auto old = device_link_.find(device); old != device_link_.end()) {
    link_device_.erase(old->second);
  }
  device_link_[device] = s;
  link_device_[s] = device;
  pump(device);
}

proton::sender C2dDelivery::link_of(const std::string& device) const {
  auto it = device_link_.find(device);
  return it != device_link_.end() ? it->second : proton::sender();
}

void C2dDelivery::feedback_attached(const proton::sender& s) {
  feedback_links_.insert(s);
  pump_feedback();
}

bool C2dDelivery::on_sendable(proton::sender& s) {
  if (feedback_links_.count(s) != 0) {
    pump_feedback();
    return true;
  }
  if (auto c2d = link_device_.find(s); c2d != link_device_.end()) {
    pump(std::string(c2d->second));
    return true;
  }
  return false;
}

void C2dDelivery::link_closed(const proton::sender& s) {
  feedback_links_.erase(s);
  unbind(s);
}

void C2dDelivery::connection_closed(const proton::connection& c) {
  std::erase_if(device_link_, [&](const auto& kv) { return kv.second.connection() == c; });
  std::erase_if(link_device_, [&](const auto& kv) { return kv.first.connection() == c; });
  std::erase_if(feedback_links_, [&](const proton::sender& s) { return s.connection() == c; });
  // Messages delivered on this connection and not settled stay locked until the lock runs out,
  // as on IoT Hub; the trackers themselves are gone.
  std::erase_if(outstanding_, [&](const auto& kv) { return kv.first.connection() == c; });
}

void C2dDelivery::revoke(const proton::connection& c, const std::set<std::string>& gone,
                         bool service_gone, const proton::error_condition& why) {
  for (const auto& [device, s] : device_link_) {
    if (s.connection() == c && gone.count(device) != 0) proton::sender(s).close(why);
  }
  if (!service_gone) return;
  for (const auto& s : feedback_links_) {
    if (s.connection() == c) proton::sender(s).close(why);
  }
}

void C2dDelivery::sweep() {
  for (const auto& device : queues_.sweep()) pump(device);
}

void C2dDelivery::unbind(const proton::sender& s) {
  auto it = link_device_.find(s);
  if (it == link_device_.end()) return;
  const std::string device = it->second;
  link_device_.erase(it);
  if (auto d = device_link_.find(device); d != device_link_.end() && d->second == s)
    device_link_.erase(d);
  // The device detached its link with messages it never settled (a release racing the detach
  // may have sent one out again): they are abandoned, not left locked, so the device's next
  // link gets them at once.
  bool abandoned = false;
  for (auto o = outstanding_.begin(); o != outstanding_.end();) {
    if (o->first.sender() == s) {
      queues_.abandon(o->second.device, o->second.lock);
      o = outstanding_.erase(o);
      abandoned = true;
    } else {
      ++o;
    }
  }
  if (abandoned) pump(device);
}

void C2dDelivery::refuse(proton::delivery& d, C2dRefusal reason, const std::string& condition,
                         const std::string& why) {
  metrics_.refused[reason].inc();
  reject_with(d, condition, why);
}

void C2dDelivery::service_send(proton::delivery& d, const proton::message& m) {
  const Node to = parse_node(m.to());
  if (to.kind != Node::device_c2d) {
    refuse(d, C2dRefusal::bad_address, "amqp:invalid-field",
           "'to' must be /devices/{id}/messages/devicebound, not '" + m.to() + "'");
    return;
  }
  if (registry_()->device(to.device_id) == nullptr) {
    refuse(d, C2dRefusal::unknown_device, "amqp:not-found",
           "device '" + to.device_id + "' is not registered");
    return;
  }
  const std::size_t size = counted_size(m);
  if (size > limits_.max_message_bytes) {
    refuse(d, C2dRefusal::too_large, "amqp:link:message-size-exceeded",
           "message of " + std::to_string(size) + " bytes is over the " +
               std::to_string(limits_.max_message_bytes) + "-byte limit");
    return;
  }
  std::optional<std::chrono::milliseconds> ttl;
  if (m.ttl().milliseconds() > 0) {
    ttl = std::min(std::chrono::milliseconds(m.ttl().milliseconds()),
                   std::chrono::milliseconds(2LL * 86'400'000));
  }
  const C2dMessage* queued = queues_.enqueue(to.device_id, m, ttl);
  if (queued == nullptr) {
    refuse(d, C2dRefusal::queue_full, "amqp:resource-limit-exceeded",
           "device '" + to.device_id + "' has " + std::to_string(queues_.limits().max_pending) +
               " messages pending");
    return;
  }
  try {
    durable_().c2d(to.device_id, queued->sequence, queued->expires_unix_ms, queued->enqueued_ms,
                   queued->encoded);
  } catch (const std::exception& e) {
    log_.error("hub", e.what());
    queues_.restore_end(to.device_id, queued->sequence);  // the sender hears it failed: so it did
    refuse(d, C2dRefusal::store_failed, "amqp:internal-error",
           "the hub could not store the message");
    return;
  }
  d.accept();
  metrics_.enqueued.inc();
  pump(to.device_id);
}

void C2dDelivery::pump(const std::string& device) {
  auto it = device_link_.find(device);
  if (it == device_link_.end()) return;
  proton::sender& s = it->second;
  while (s.active() && s.credit() > 0) {
    const C2dMessage* m = queues_.lock_next(device);
    if (m == nullptr) return;
    proton::message& out = delivery_;
    out.decode(m->encoded);
    // The header says it too, as an AMQP 1.0 broker does: a client that does not know IoT Hub's
    // annotation still sees a redelivery.
    out.delivery_count(static_cast<std::uint32_t>(m->delivery_count));
    out.first_acquirer(m->delivery_count == 0);
    auto& ann = out.message_annotations();
    ann.put(proton::annotation_key(proton::symbol("x-opt-lock-token")), m->lock_token);
    ann.put(proton::annotation_key(proton::symbol("iothub-deliverycount")),
            static_cast<std::int32_t>(m->delivery_count));
    ann.put(proton::annotation_key(proton::symbol("x-opt-sequence-number")), m->sequence);
    ann.put(proton::annotation_key(proton::symbol("iothub-enqueuedtime")),
            proton::timestamp(m->enqueued_ms));
    outstanding_[s.send(out)] = {device, m->lock_token};
    metrics_.deliveries.inc();
    s.connection().wake();
  }
}

void C2dDelivery::ended(const C2dMessage& m, C2dEnd how, const std::string& why) {
  try {
    durable_().c2d_ended(m.device_id, m.sequence, to_string(how));
  } catch (const std::exception& e) {
    log_.error("hub", e.what());  // after a restart the message would come once more
  }
  log_.info("hub", m.device_id + ": C2D message " + m.message_id + " ended: " + to_string(how) +
                       " (" + why + ")");
  const std::string& ack = m.ack;
  const bool success = how == C2dEnd::success;
  metrics_.ended[how].inc();
  if (!(ack == "full" || (ack == "positive" && success) || (ack == "negative" && !success))) return;
  // Field order as IoT Hub writes a feedback record.
  std::string record = nlohmann::ordered_json{
      {"originalMessageId", m.message_id},
      {"enqueuedTimeUtc", iso8601_utc(m.enqueued_ms)},
      {"statusCode", to_string(how)},
      {"description", why},
      {"deviceId",
       m.device_id}}.dump(-1, ' ', false, kJsonReplace);
  feedback_.push_back(std::move(record));
  metrics_.feedback_records.inc();
  if (feedback_.size() > limits_.max_feedback_records) feedback_.pop_front();
  pump_feedback();
}

void C2dDelivery::pump_feedback() {
  if (feedback_.empty()) return;
  for (auto s : feedback_links_) {
    if (!s.active() || s.credit() <= 0) continue;
    std::string body = "[";
    for (std::size_t i = 0; i < feedback_.size(); ++i) body += (i != 0 ? "," : "") + feedback_[i];
    body += "]";
    proton::message m;
    m.content_type("application/vnd.microsoft.iothub.feedback.json");
    // In a data section, as IoT Hub sends it: Azure's Node service SDK reads no body (and so
    // no records) from an amqp-value section.
    set_data_body(m, body);
    s.send(m);
    s.connection().wake();
    metrics_.feedback_messages.inc();
    feedback_.clear();
    return;
  }
}

bool C2dDelivery::on_accept(proton::tracker& t) {
  auto it = outstanding_.find(t);
  if (it == outstanding_.end()) return false;
  queues_.complete(it->second.device, it->second.lock);
  outstanding_.erase(it);
  return true;
}

bool C2dDelivery::on_reject(proton::tracker& t) {
  auto it = outstanding_.find(t);
  if (it == outstanding_.end()) return false;
  queues_.reject(it->second.device, it->second.lock, "rejected by the device");
  outstanding_.erase(it);
  return true;
}

bool C2dDelivery::on_release(proton::tracker& t) {
  auto it = outstanding_.find(t);
  if (it == outstanding_.end()) return false;
  const std::string device = it->second.device;
  queues_.abandon(device, it->second.lock);
  outstanding_.erase(it);
  pump(device);
  return true;
}

}  // namespace iotgw::hub
