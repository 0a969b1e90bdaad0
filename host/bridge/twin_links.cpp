#include "bridge/twin_links.hpp"

#include <algorithm>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/message_id.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>
#include <proton/symbol.hpp>

#include <nlohmann/json.hpp>

#include "bridge/link_options.hpp"
#include "iotgw/common/amqp_text.hpp"

namespace iotgw::bridge {

namespace {

constexpr std::chrono::milliseconds kDefaultTimeout{30'000};
constexpr const char* kDesired = "/notifications/twin/properties/desired";

struct Wire {
  const char* operation;
  const char* resource;  // nullptr: none
};

std::optional<Wire> wire_of(iotgw_op_kind kind) {
  switch (kind) {
    case IOTGW_OP_TWIN_GET: return Wire{"GET", nullptr};
    case IOTGW_OP_TWIN_PATCH_REPORTED: return Wire{"PATCH", "/properties/reported"};
    case IOTGW_OP_TWIN_WATCH_DESIRED: return Wire{"PUT", kDesired};
    case IOTGW_OP_TWIN_UNWATCH_DESIRED: return Wire{"DELETE", kDesired};
    default: return std::nullopt;
  }
}

std::optional<std::int64_t> annotation(const proton::message& m, const char* key) {
  const auto& a = m.message_annotations();
  const proton::annotation_key k{proton::symbol(key)};
  if (!a.exists(k)) return std::nullopt;
  return amqp_integer(a.get(k));
}

// IoT Hub puts a desired patch's version in its body; a hub that also annotates it is believed.
std::int64_t patch_version(const proton::message& m, const std::string& body) {
  if (auto v = annotation(m, "version")) return *v;
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_object()) {
    auto it = doc.find("$version");
    if (it != doc.end() && it->is_number_integer()) return it->get<std::int64_t>();
  }
  return -1;
}

// A twin document's desired section ({"desired": {...}, "reported": {...}}), if it has one.
std::optional<nlohmann::json> desired_section(const std::string& twin) {
  auto doc = nlohmann::json::parse(twin, nullptr, false);
  if (!doc.is_object() || !doc.contains("desired") || !doc["desired"].is_object()) return {};
  return std::move(doc["desired"]);
}

}  // namespace

TwinLinks::TwinLinks(std::string address, Notify notify, Warn warn)
    : address_(std::move(address)), notify_(std::move(notify)), warn_(std::move(warn)) {}

bool TwinLinks::has_links(const std::string& device) const {
  auto it = devices_.find(device);
  return it != devices_.end() && it->second.links.attached();
}

TwinLinks::Device& TwinLinks::attach(const proton::connection& c, const std::string& device) {
  auto& d = devices_[device];
  if (d.links.attached()) return d;
  d.links.attach(c, expand_address(address_, device), "twin:" + std::to_string(next_++));
  link_device_[d.links.sender] = device;
  link_device_[d.links.receiver] = device;
  return d;
}

void TwinLinks::request(const proton::connection& c, const std::string& device, const Operation& op,
                        std::int64_t now_ms, OperationDone done) {
  if (!wire_of(op.kind)) {
    done(OperationResult::local(kStatusBadRequest, "not a twin operation"));
    return;
  }
  if (!c) {
    done(OperationResult::local(kStatusUnavailable, "no connection to the hub"));
    return;
  }
  const bool fresh = !has_links(device);
  auto& d = attach(c, device);
  if (op.kind == IOTGW_OP_TWIN_WATCH_DESIRED) d.watching = true;
  if (op.kind == IOTGW_OP_TWIN_UNWATCH_DESIRED) d.watching = false;
  // Links attached anew (the hub closed the old ones) take the watch back first.
  if (fresh && d.watching && op.kind != IOTGW_OP_TWIN_WATCH_DESIRED) {
    send(device, {.kind = IOTGW_OP_TWIN_WATCH_DESIRED, .body = {}, .timeout = op.timeout}, now_ms,
         {}, false);
  }
  send(device, op, now_ms, std::move(done), true);
}

void TwinLinks::send(const std::string& device, const Operation& op, std::int64_t now_ms,
                     OperationDone done, bool for_device) {
  const auto wire = *wire_of(op.kind);
  const std::string id = "twin-" + std::to_string(next_++);
  proton::message m;
  m.correlation_id(proton::message_id(id));
  m.message_annotations().put(proton::annotation_key(proton::symbol("operation")),
                              std::string(wire.operation));
  if (wire.resource != nullptr) {
    m.message_annotations().put(proton::annotation_key(proton::symbol("resource")),
                                std::string(wire.resource));
  }
  // IoT Hub takes no empty body: the SDKs send a single space.
  const std::string& body = op.body.empty() ? std::string(" ") : op.body;
  set_data_body(m, body);
  const auto timeout = op.timeout.count() > 0 ? op.timeout : kDefaultTimeout;
  waiting_[id] = {device, std::move(done), now_ms + timeout.count(), op.kind, for_device};
  devices_.at(device).links.sender.send(m);
}

void TwinLinks::restore(const proton::connection& c, const std::string& device,
                        std::int64_t now_ms) {
  auto it = devices_.find(device);
  if (!c || it == devices_.end() || !it->second.watching || it->second.links.attached()) return;
  attach(c, device);
  send(device, {.kind = IOTGW_OP_TWIN_WATCH_DESIRED, .body = {}, .timeout = {}}, now_ms, {}, false);
  send(
      device, {.kind = IOTGW_OP_TWIN_GET, .body = {}, .timeout = {}}, now_ms,
      [this, device](const OperationResult& twin) { catch_up(device, twin); }, false);
}

void TwinLinks::drop_links(Device& d) {
  link_device_.erase(d.links.sender);
  link_device_.erase(d.links.receiver);
  d.links.close();
}

void TwinLinks::saw(const std::string& device, std::int64_t desired_version) {
  auto it = devices_.find(device);
  if (it != devices_.end()) {
    it->second.desired_version = std::max(it->second.desired_version, desired_version);
  }
}

void TwinLinks::catch_up(const std::string& device, const OperationResult& twin) {
  auto it = devices_.find(device);
  if (twin.status != 200 || it == devices_.end() || !it->second.watching) return;
  const auto desired = desired_section(twin.body);
  if (!desired) return;
  const auto version = desired->value("$version", std::int64_t{-1});
  if (version <= it->second.desired_version) return;
  // The whole section as one patch: what changed is in it (a removed property is not: the
  // device learns of that at its next GET).
  saw(device, version);
  notify_(device, {.kind = IOTGW_HUB_DESIRED_PATCH,
                   .id = 0,
                   .name = {},
                   .body = desired->dump(),
                   .version = version});
}

void TwinLinks::fail_device(const std::string& device, const OperationResult& why) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.device != device) {
      ++it;
      continue;
    }
    auto done = std::move(it->second.done);
    it = waiting_.erase(it);
    if (done) done(why);
  }
}

void TwinLinks::remove(const std::string& device) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  for (auto w = waiting_.begin(); w != waiting_.end();) {
    w = w->second.device == device ? waiting_.erase(w) : std::next(w);
  }
  drop_links(it->second);
  devices_.erase(it);
}

void TwinLinks::reset() {
  link_device_.clear();
  for (auto& [device, d] : devices_) d.links.forget();
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& [id, w] : waiting) {
    if (w.done) w.done(OperationResult::local(kStatusUnavailable, "the hub connection was lost"));
  }
}

void TwinLinks::expire(std::int64_t now_ms) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.deadline_ms > now_ms) {
      ++it;
      continue;
    }
    auto w = std::move(it->second);
    it = waiting_.erase(it);
    if (w.done) {
      w.done(OperationResult::local(kStatusTimeout, "the hub did not answer in time"));
    } else {
      warn_(w.device, "the hub did not answer the desired-property watch in time");
    }
  }
}

bool TwinLinks::on_message(proton::delivery& d, const proton::message& m) {
  auto owner = link_device_.find(d.receiver());
  if (owner == link_device_.end()) return false;
  const std::string device = owner->second;
  const std::string body = amqp_text(m.body());
  if (m.correlation_id().empty()) {
    HubRequest patch{.kind = IOTGW_HUB_DESIRED_PATCH,
                     .id = 0,
                     .name = {},
                     .body = body,
                     .version = patch_version(m, body)};
    saw(device, patch.version);
    notify_(device, patch);
    return true;
  }
  auto w = waiting_.find(proton::to_string(m.correlation_id()));
  if (w == waiting_.end()) return true;  // answered 504 already, or the device is gone
  auto waiting = std::move(w->second);
  waiting_.erase(w);
  OperationResult r;
  r.status = static_cast<int>(annotation(m, "status").value_or(0));
  r.version = annotation(m, "version").value_or(-1);
  r.body = body;
  if (r.status == 0) r.reason = "the hub's twin answer has no status";
  if (waiting.kind == IOTGW_OP_TWIN_GET && r.status == 200 && waiting.for_device) {
    if (const auto desired = desired_section(body)) {
      saw(device, desired->value("$version", std::int64_t{-1}));
    }
  }
  if (waiting.done) {
    waiting.done(std::move(r));
  } else if (r.status < 200 || r.status >= 300) {
    warn_(device,
          "the hub refused the desired-property watch: " + std::to_string(r.status) + " " + r.body);
  }
  return true;
}

bool TwinLinks::on_link_close(proton::link& l) {
  auto owner = link_device_.find(l);
  if (owner == link_device_.end()) return false;
  const std::string device = owner->second;
  auto it = devices_.find(device);
  if (it == devices_.end() || !it->second.links.holds(l)) {
    link_device_.erase(owner);
    return true;
  }
  const std::string why = l.error().empty() ? std::string("the hub closed the twin link")
                                            : "the hub closed the twin link: " + l.error().what();
  drop_links(it->second);
  warn_(device, why);
  fail_device(device, OperationResult::local(kStatusUnavailable, why));
  return true;
}

}  // namespace iotgw::bridge
