// The function table plugins call. Each function turns an opaque handle back into the host
// object it stands for; nothing here keeps state of its own.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "runtime/auth_run.hpp"
#include "runtime/message.hpp"
#include "runtime/plugin_instance.hpp"
#include "runtime/session.hpp"

namespace iotgw::runtime {

namespace {

Session& session(iotgw_conn* c) {
  return static_cast<Session&>(*c);
}
transport::Connection* transport_of(iotgw_conn* c) {
  return session(c).connection();
}
std::string_view view(iotgw_str s) {
  return {s.data, s.size};
}
iotgw_str c_str(const std::string& s) {
  return {s.data(), s.size()};
}

void api_log(const iotgw_plugin_ctx* ctx, iotgw_log_level level, const char* message) {
  if (ctx == nullptr || message == nullptr) return;
  const auto lvl = static_cast<LogLevel>(std::clamp(static_cast<int>(level), 0, 4));
  ctx->log->log(lvl, ctx->component, message);
}

iotgw_status api_write(iotgw_conn* c, iotgw_bytes data) {
  auto* t = transport_of(c);
  if (t == nullptr || t->closed()) return IOTGW_ERR_STATE;
  t->write({data.data, data.size});
  return IOTGW_OK;
}

size_t api_write_queue_size(const iotgw_conn* c) {
  auto* t = transport_of(const_cast<iotgw_conn*>(c));
  return t != nullptr ? t->write_queue_size() : 0;
}

void api_close(iotgw_conn* c, const char* reason) {
  if (auto* t = transport_of(c)) t->close(reason != nullptr ? reason : "closed by adapter");
}

void api_pause(iotgw_conn* c) {
  if (auto* t = transport_of(c)) t->pause_reading();
}

void api_resume(iotgw_conn* c) {
  if (auto* t = transport_of(c)) t->resume_reading();
}

void api_set_timer(iotgw_conn* c, uint32_t id, uint64_t ms) {
  if (auto* t = transport_of(c)) {
    t->set_timer(id, std::chrono::milliseconds(std::min<uint64_t>(ms, 1ULL << 40)));
  }
}

void api_cancel_timer(iotgw_conn* c, uint32_t id) {
  if (auto* t = transport_of(c)) t->cancel_timer(id);
}

iotgw_status api_authenticate(iotgw_conn* c, const iotgw_credentials* creds, uint64_t* token) {
  if (creds == nullptr || token == nullptr) return IOTGW_ERR_STATE;
  return session(c).authenticate(*creds, *token);
}

iotgw_msg* api_msg_create(iotgw_conn* /*conn*/) {
  return std::make_unique<iotgw_msg>().release();
}

void api_msg_destroy(iotgw_msg* m) {
  std::unique_ptr<iotgw_msg>(m).reset();
}

iotgw_bytes api_msg_body(const iotgw_msg* m) {
  return {m->body.data(), m->body.size()};
}

void api_msg_set_body(iotgw_msg* m, iotgw_bytes b) {
  m->body.assign(b.data, b.data + b.size);
}

uint8_t* api_msg_reserve_body(iotgw_msg* m, size_t capacity) {
  // Separate room, so a transform reads the current body while it writes the new one.
  m->scratch.resize(capacity);
  return m->scratch.data();
}

void api_msg_commit_body(iotgw_msg* m, size_t size) {
  m->scratch.resize(std::min(size, m->scratch.size()));
  m->body.swap(m->scratch);
  m->scratch.clear();
}

int api_msg_get(const iotgw_msg* m, iotgw_prop_scope scope, iotgw_str key, iotgw_str* value) {
  if (scope > IOTGW_PROP_ANNOTATION) return 0;
  const auto* v = m->scope(scope).get(view(key));
  if (v == nullptr) return 0;
  if (value != nullptr) *value = c_str(*v);
  return 1;
}

void api_msg_set(iotgw_msg* m, iotgw_prop_scope scope, iotgw_str key, iotgw_str value) {
  if (scope > IOTGW_PROP_ANNOTATION) return;
  m->scope(scope).set(view(key), view(value));
}

int api_msg_remove(iotgw_msg* m, iotgw_prop_scope scope, iotgw_str key) {
  if (scope > IOTGW_PROP_ANNOTATION) return 0;
  return m->scope(scope).remove(view(key)) ? 1 : 0;
}

size_t api_msg_count(const iotgw_msg* m, iotgw_prop_scope scope) {
  if (scope > IOTGW_PROP_ANNOTATION) return 0;
  return m->scope(scope).size();
}

int api_msg_at(const iotgw_msg* m, iotgw_prop_scope scope, size_t i, iotgw_str* k, iotgw_str* v) {
  if (scope > IOTGW_PROP_ANNOTATION || i >= m->scope(scope).size()) return 0;
  const auto& kv = m->scope(scope).at(i);
  if (k != nullptr) *k = c_str(kv.first);
  if (v != nullptr) *v = c_str(kv.second);
  return 1;
}

iotgw_str api_msg_device_id(const iotgw_msg* m) {
  return c_str(m->device_id);
}

iotgw_status api_send_upstream(iotgw_conn* c, iotgw_msg* m, iotgw_qos qos, uint64_t* token) {
  std::unique_ptr<iotgw_msg> owned(m);  // taken whatever happens
  if (owned == nullptr) return IOTGW_ERR_STATE;
  uint64_t t = 0;
  const auto st = session(c).send_upstream(std::move(owned), qos, t);
  if (token != nullptr) *token = t;
  return st;
}

iotgw_status api_set_downstream(iotgw_conn* c, int enabled) {
  return session(c).set_downstream(enabled != 0);
}

void api_settle(iotgw_conn* c, uint64_t delivery, iotgw_outcome outcome, const char* reason) {
  session(c).settle(delivery, outcome, reason);
}

int api_reading_paused(const iotgw_conn* c) {
  const auto* t = transport_of(const_cast<iotgw_conn*>(c));
  return t != nullptr && t->reading_paused() ? 1 : 0;
}

iotgw_status api_request_upstream(iotgw_conn* c, const iotgw_op_request* request, uint64_t* token) {
  if (request == nullptr || token == nullptr ||
      request->struct_size < offsetof(iotgw_op_request, reserved)) {
    return IOTGW_ERR_STATE;
  }
  return session(c).request(*request, *token);
}

iotgw_status api_respond(iotgw_conn* c, uint64_t id, int32_t status, iotgw_bytes body) {
  return session(c).respond(id, status, body);
}

void api_refuse_over_rate(iotgw_conn* c, int refuse) {
  session(c).refuse_over_rate(refuse != 0);
}

void api_auth_complete(iotgw_auth* request, iotgw_status status, const iotgw_identity* identity,
                       const char* reason) {
  if (request != nullptr) request->complete(status, identity, reason);
}

}  // namespace

const iotgw_host_api& host_api() {
  static const iotgw_host_api api = {sizeof(iotgw_host_api),
                                     IOTGW_ABI_MAJOR,
                                     IOTGW_ABI_MINOR,
                                     api_log,
                                     api_write,
                                     api_write_queue_size,
                                     api_close,
                                     api_pause,
                                     api_resume,
                                     api_set_timer,
                                     api_cancel_timer,
                                     api_authenticate,
                                     api_msg_create,
                                     api_msg_destroy,
                                     api_msg_body,
                                     api_msg_set_body,
                                     api_msg_reserve_body,
                                     api_msg_commit_body,
                                     api_msg_get,
                                     api_msg_set,
                                     api_msg_remove,
                                     api_msg_count,
                                     api_msg_at,
                                     api_msg_device_id,
                                     api_send_upstream,
                                     api_set_downstream,
                                     api_settle,
                                     api_auth_complete,
                                     api_reading_paused,
                                     api_request_upstream,
                                     api_respond,
                                     api_refuse_over_rate,
                                     {}};
  return api;
}

}  // namespace iotgw::runtime
