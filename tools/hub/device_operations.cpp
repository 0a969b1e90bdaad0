#include "device_operations.hpp"

#include <algorithm>
#include <vector>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/message_id.hpp>
#include <proton/symbol.hpp>

#include "iotgw/common/amqp_text.hpp"
#include "iotgw/common/clock.hpp"
#include "json_text.hpp"

namespace iotgw::hub {

namespace {

std::string annotation_text(const proton::message& m, const char* key) {
  const proton::annotation_key k{proton::symbol(key)};
  return m.message_annotations().exists(k) ? amqp_text(m.message_annotations().get(k)) : "";
}

void set_body(proton::message& m, const std::string& body) {
  set_data_body(m, body);
}

bool usable(const proton::sender& s) {
  return s && s.active();
}

// Takes every entry `pick` chooses out of `pending` (calls, or calls waiting for their device)
// and hands each to `answer`, which tells its caller.
template <class Map, class Pick, class Answer>
void take_each(Map& pending, Pick pick, Answer answer) {
  for (auto it = pending.begin(); it != pending.end();) {
    if (!pick(it->second)) {
      ++it;
      continue;
    }
    auto entry = std::move(it->second);
    it = pending.erase(it);
    answer(entry);
  }
}

DeviceOperations::Outcome hub_error(int status, int code, const std::string& why) {
  return {false, status,
          nlohmann::json{{"errorCode", code}, {"message", why}}.dump(-1, ' ', false, kJsonReplace)};
}

}  // namespace

DeviceOperations::DeviceOperations(TwinStore& twins, OperationMetrics& metrics, Logger& log)
    : twins_(twins), metrics_(metrics), log_(log) {}

void DeviceOperations::twin_attached(const std::string& device, const proton::sender& s) {
  twin_[device] = {s, false};  // a new pair watches nothing until it asks
}

void DeviceOperations::methods_attached(const std::string& device, const proton::sender& s) {
  methods_[device] = s;
  // Calls that waited for the device to come online go now.
  auto [from, to] = waiting_.equal_range(device);
  std::vector<Waiting> due;
  for (auto it = from; it != to; ++it) due.push_back(std::move(it->second));
  waiting_.erase(from, to);
  for (auto& w : due) {
    send_call(device, w.method, w.payload, w.timeout, unix_millis(), std::move(w.done));
  }
}

void DeviceOperations::link_closed(const proton::link& l) {
  std::erase_if(twin_, [&](const auto& kv) { return kv.second.out == l; });
  went_offline([&](const proton::sender& s) { return s == l; });
}

std::vector<proton::sender> DeviceOperations::senders_of(const std::string& device) const {
  std::vector<proton::sender> out;
  if (auto t = twin_.find(device); t != twin_.end()) out.push_back(t->second.out);
  if (auto m = methods_.find(device); m != methods_.end()) out.push_back(m->second);
  return out;
}

void DeviceOperations::connection_closed(const proton::connection& c) {
  std::erase_if(twin_, [&](const auto& kv) { return kv.second.out.connection() == c; });
  went_offline([&](const proton::sender& s) { return s.connection() == c; });
}

void DeviceOperations::went_offline(const std::function<bool(const proton::sender&)>& gone) {
  std::vector<std::string> offline;
  std::erase_if(methods_, [&](const auto& kv) {
    if (!gone(kv.second)) return false;
    offline.push_back(kv.first);
    return true;
  });
  // A call sent on a link that is gone cannot be answered: its caller hears so now, as IoT Hub
  // answers, rather than after the whole response timeout.
  take_each(
      calls_,
      [&](const Call& c) {
        return std::find(offline.begin(), offline.end(), c.device) != offline.end();
      },
      [&](const Call& c) {
        finish(c.done, MethodResult::not_online,
               hub_error(404, 404103, "the device went offline before answering"));
      });
}

void DeviceOperations::answer_twin(const std::string& device, const proton::message& request,
                                   int status, std::int64_t version, const std::string& body) {
  metrics_.twin_requests[status < 300 ? TwinResult::ok : TwinResult::error].inc();
  auto it = twin_.find(device);
  if (it == twin_.end() || !usable(it->second.out)) return;  // nowhere to answer
  proton::message answer;
  answer.correlation_id(request.correlation_id());
  answer.message_annotations().put(proton::annotation_key(proton::symbol("status")),
                                   static_cast<std::int32_t>(status));
  if (version >= 0) {
    answer.message_annotations().put(proton::annotation_key(proton::symbol("version")), version);
  }
  set_body(answer, body);
  it->second.out.send(answer);
}

void DeviceOperations::twin_request(const std::string& device, const proton::message& m) {
  const std::string operation = annotation_text(m, "operation");
  const std::string resource = annotation_text(m, "resource");
  auto error = [](const std::string& why) {
    return nlohmann::json{{"errorCode", 400}, {"message", why}}.dump(-1, ' ', false, kJsonReplace);
  };
  if (m.correlation_id().empty()) {
    log_.info("hub", device + ": a twin request without a correlation id, unanswerable");
    metrics_.twin_requests[TwinResult::error].inc();
    return;
  }
  if (operation == "GET" && resource.empty()) {
    const auto view = twins_.device_view(device);
    answer_twin(device, m, 200, view["desired"].value("$version", std::int64_t{-1}),
                view.dump(-1, ' ', false, kJsonReplace));
  } else if (operation == "PATCH" && resource == "/properties/reported") {
    const auto r = twins_.patch_reported(device, amqp_text(m.body()), unix_millis());
    answer_twin(device, m, r.status, r.version,
                r.ok() ? std::string()
                       : nlohmann::json{{"errorCode", r.status}, {"message", r.error}}.dump(
                             -1, ' ', false, kJsonReplace));
  } else if ((operation == "PUT" || operation == "DELETE") &&
             resource == "/notifications/twin/properties/desired") {
    twin_[device].watching = operation == "PUT";
    answer_twin(device, m, 200, -1, {});
  } else {
    answer_twin(device, m, 400, -1,
                error("operation '" + operation + "' on resource '" + resource +
                      "' is not a twin request"));
  }
}

void DeviceOperations::desired_changed(const std::string& device, const nlohmann::json& patch) {
  auto it = twin_.find(device);
  if (it == twin_.end() || !it->second.watching || !usable(it->second.out)) return;
  proton::message notice;  // no correlation id: that is what marks a patch
  notice.message_annotations().put(proton::annotation_key(proton::symbol("version")),
                                   patch.value("$version", std::int64_t{-1}));
  set_body(notice, patch.dump(-1, ' ', false, kJsonReplace));
  it->second.out.send(notice);
  metrics_.desired_patches.inc();
  // Called from the service API's work, not from this connection's own events: Proton's
  // proactor writes a connection's output only when woken.
  it->second.out.connection().wake();
}

bool DeviceOperations::methods_online(const std::string& device) const {
  auto it = methods_.find(device);
  return it != methods_.end() && usable(it->second);
}

void DeviceOperations::invoke(const std::string& device, const std::string& method,
                              const std::string& payload, std::chrono::milliseconds timeout,
                              std::chrono::milliseconds connect_timeout, std::int64_t now_ms,
                              Answered done) {
  if (methods_online(device)) {
    send_call(device, method, payload, timeout, now_ms, std::move(done));
    return;
  }
  if (connect_timeout.count() <= 0) {
    finish(done, MethodResult::not_online,
           hub_error(404, 404103, "the device is not online (no methods link)"));
    return;
  }
  waiting_.emplace(
      device, Waiting{method, payload, timeout, now_ms + connect_timeout.count(), std::move(done)});
}

void DeviceOperations::send_call(const std::string& device, const std::string& method,
                                 const std::string& payload, std::chrono::milliseconds timeout,
                                 std::int64_t now_ms, Answered done) {
  const std::string id = "method-" + std::to_string(next_call_++);
  proton::message call;
  call.correlation_id(proton::message_id(id));
  call.properties().put("IoThub-methodname", method);
  set_body(call, payload);
  calls_[id] = {device, std::move(done), now_ms + timeout.count()};
  auto& out = methods_.at(device);
  out.send(call);
  out.connection().wake();  // as in desired_changed
}

void DeviceOperations::method_answer(const std::string& device, const proton::message& m) {
  auto it = calls_.find(proton::to_string(m.correlation_id()));
  if (it == calls_.end() || it->second.device != device) return;  // timed out, or not its call
  auto call = std::move(it->second);
  calls_.erase(it);
  const auto status = m.properties().exists("IoThub-status")
                          ? amqp_integer(m.properties().get("IoThub-status"))
                          : std::nullopt;
  if (!status) {
    finish(call.done, MethodResult::bad_answer,
           hub_error(502, 502101, "the device's answer has no IoThub-status"));
    return;
  }
  finish(call.done, MethodResult::answered, {true, static_cast<int>(*status), amqp_text(m.body())});
}

void DeviceOperations::finish(const Answered& done, MethodResult result, const Outcome& outcome) {
  metrics_.method_calls[result].inc();
  done(outcome);
}

void DeviceOperations::sweep(std::int64_t now_ms) {
  take_each(
      calls_, [&](const Call& c) { return c.deadline_ms <= now_ms; },
      [&](const Call& c) {
        finish(c.done, MethodResult::timed_out,
               hub_error(504, 504101, "the device did not answer in time"));
      });
  take_each(
      waiting_, [&](const Waiting& w) { return w.connect_deadline_ms <= now_ms; },
      [&](const Waiting& w) {
        finish(w.done, MethodResult::not_online,
               hub_error(404, 404103, "the device did not come online in time"));
      });
}

}  // namespace iotgw::hub
