#include "c2d_queue.hpp"

#include "iotgw/common/clock.hpp"
#include "message_facts.hpp"

#include <proton/message_id.hpp>

#include <algorithm>

namespace iotgw::hub {

const char* to_string(C2dEnd end) {
  switch (end) {
    case C2dEnd::success: return "Success";
    case C2dEnd::expired: return "Expired";
    case C2dEnd::delivery_count_exceeded: return "DeliveryCountExceeded";
    case C2dEnd::rejected: return "Rejected";
  }
  return "Unknown";
}

namespace {

void keep(C2dMessage& m, const proton::message& msg) {
  m.encoded = encode_exact(msg);
  m.message_id = proton::to_string(msg.id());
  m.ack = property(msg, "iothub-ack");
}

}  // namespace

const C2dMessage* C2dQueues::enqueue(const std::string& device, const proton::message& msg,
                                     std::optional<std::chrono::milliseconds> ttl) {
  auto& q = queues_[device];
  if (q.size() >= limits_.max_pending) return nullptr;
  C2dMessage m;
  keep(m, msg);
  m.device_id = device;
  m.sequence = next_sequence_++;
  m.enqueued_ms = unix_millis();
  m.expires = Clock::now() + ttl.value_or(limits_.default_ttl);
  m.expires_unix_ms = m.enqueued_ms + ttl.value_or(limits_.default_ttl).count();
  q.push_back(std::move(m));
  return &q.back();
}

void C2dQueues::restore(const std::string& device, std::int64_t seq, std::int64_t expires_unix_ms,
                        std::int64_t enqueued_unix_ms, const proton::message& msg) {
  C2dMessage m;
  keep(m, msg);
  m.device_id = device;
  m.sequence = seq;
  m.enqueued_ms = enqueued_unix_ms;
  m.expires_unix_ms = expires_unix_ms;
  m.expires = Clock::now() + std::chrono::milliseconds(expires_unix_ms - unix_millis());
  queues_[device].push_back(std::move(m));
  next_sequence_ = std::max(next_sequence_, seq + 1);
}

void C2dQueues::restore_abandon(const std::string& device, std::int64_t seq) {
  for (auto& m : queues_[device]) {
    if (m.sequence == seq) ++m.delivery_count;
  }
}

void C2dQueues::restore_end(const std::string& device, std::int64_t seq) {
  queues_[device].remove_if([seq](const C2dMessage& m) { return m.sequence == seq; });
}

const C2dMessage* C2dQueues::lock_next(const std::string& device) {
  auto qi = queues_.find(device);
  if (qi == queues_.end()) return nullptr;
  const auto now = Clock::now();
  for (auto& m : qi->second) {
    if (m.locked || m.expires <= now) continue;
    m.locked = true;
    m.locked_until = now + limits_.lock;
    // Lock tokens are unique for the hub's lifetime; shaped like the GUIDs IoT Hub hands out.
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx",
                  static_cast<unsigned long long>(next_lock_++));
    m.lock_token = buf;
    return &m;
  }
  return nullptr;
}

std::list<C2dMessage>::iterator C2dQueues::find(const std::string& device,
                                                const std::string& lock) {
  auto& q = queues_[device];
  return std::find_if(q.begin(), q.end(),
                      [&](const C2dMessage& m) { return m.locked && m.lock_token == lock; });
}

void C2dQueues::end(std::list<C2dMessage>& q, std::list<C2dMessage>::iterator it, C2dEnd how,
                    const std::string& why) {
  if (on_end_) on_end_(*it, how, why);
  q.erase(it);
}

void C2dQueues::unlock_again(std::list<C2dMessage>& q, std::list<C2dMessage>::iterator it) {
  it->locked = false;
  it->lock_token.clear();
  ++it->delivery_count;
  if (on_abandon_) on_abandon_(*it);
  if (it->delivery_count >= limits_.max_delivery_count) {
    end(q, it, C2dEnd::delivery_count_exceeded,
        "delivered " + std::to_string(it->delivery_count) + " times without being completed");
  }
}

void C2dQueues::complete(const std::string& device, const std::string& lock) {
  auto& q = queues_[device];
  auto it = find(device, lock);
  if (it != q.end()) end(q, it, C2dEnd::success, "completed");
}

void C2dQueues::abandon(const std::string& device, const std::string& lock) {
  auto& q = queues_[device];
  auto it = find(device, lock);
  if (it != q.end()) unlock_again(q, it);
}

void C2dQueues::reject(const std::string& device, const std::string& lock, const std::string& why) {
  auto& q = queues_[device];
  auto it = find(device, lock);
  if (it != q.end()) end(q, it, C2dEnd::rejected, why);
}

std::vector<std::string> C2dQueues::sweep() {
  std::vector<std::string> ready;
  const auto now = Clock::now();
  for (auto& [device, q] : queues_) {
    bool freed = false;
    for (auto it = q.begin(); it != q.end();) {
      auto next = std::next(it);
      if (it->expires <= now) {
        end(q, it, C2dEnd::expired, "time to live passed");
      } else if (it->locked && it->locked_until <= now) {
        unlock_again(q, it);
        freed = true;
      }
      it = next;
    }
    if (freed) ready.push_back(device);
  }
  return ready;
}

std::size_t C2dQueues::pending(const std::string& device) const {
  auto it = queues_.find(device);
  return it == queues_.end() ? 0 : it->second.size();
}

}  // namespace iotgw::hub
