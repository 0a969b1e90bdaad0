#include "runtime/auth_run.hpp"

#include <boost/asio/post.hpp>

#include "iotgw/plugin.hpp"

namespace iotgw::runtime {

namespace {
std::string str(iotgw_str s) {
  return s.data != nullptr ? std::string(s.data, s.size) : std::string();
}
std::string str(iotgw_bytes b) {
  return b.data != nullptr ? std::string(reinterpret_cast<const char*>(b.data), b.size)
                           : std::string();
}
}  // namespace

OwnedCredentials OwnedCredentials::copy(const iotgw_credentials& c) {
  return {str(c.client_id),
          str(c.username),
          str(c.password),
          str(c.peer_address),
          str(c.cert_subject_cn),
          str(c.cert_sha256),
          {},
          nullptr,
          {}};
}

iotgw_credentials OwnedCredentials::view() const {
  iotgw_credentials c{};
  c.struct_size = sizeof c;
  c.client_id = to_c(client_id);
  c.username = to_c(username);
  c.password = {reinterpret_cast<const std::uint8_t*>(password.data()), password.size()};
  c.peer_address = to_c(peer_address);
  c.cert_subject_cn = to_c(cert_subject_cn);
  c.cert_sha256 = to_c(cert_sha256);
  c.upgrade = upgrade ? upgrade->c_view() : nullptr;
  c.transport = to_c(transport);
  c.psk_identity = to_c(psk_identity);
  return c;
}

AuthRun::AuthRun(std::shared_ptr<const Pipeline> pipeline, OwnedCredentials credentials,
                 boost::asio::io_context& loop, Done done)
    : pipeline_(std::move(pipeline)),
      credentials_(std::move(credentials)),
      loop_(loop),
      done_(std::move(done)) {}

void AuthRun::start() {
  if (pipeline_->authenticators().empty()) {
    // No authenticator: the claimed identity is taken as it is (development listeners only;
    // the topology builder warns about such listeners).
    identity_.device_id =
        credentials_.client_id.empty() ? credentials_.username : credentials_.client_id;
    identity_.auth_method = "anonymous";
  }
  boost::asio::post(loop_, [self = shared_from_this()] { self->step(); });
}

void AuthRun::adopt(const iotgw_identity& id) {
  if (id.device_id.size > 0) identity_.device_id = str(id.device_id);
  if (id.module_id.size > 0) identity_.module_id = str(id.module_id);
  if (id.auth_method.size > 0) identity_.auth_method = str(id.auth_method);
  if (id.hub_token.size > 0) identity_.hub_token = str(id.hub_token);
}

void AuthRun::step() {
  const auto& stages = pipeline_->authenticators();
  while (next_ < stages.size()) {
    const auto& stage = stages[next_++];
    auto* fn = stage.instance->vtable().authenticate;
    if (fn == nullptr) continue;
    const auto creds = credentials_.view();
    iotgw_identity id{};
    id.struct_size = sizeof id;
    id.device_id = to_c(identity_.device_id);
    id.module_id = to_c(identity_.module_id);
    id.auth_method = to_c(identity_.auth_method);
    id.hub_token = to_c(identity_.hub_token);
    iotgw_error err{};
    pending_self_ = shared_from_this();
    const iotgw_status st = fn(stage.instance->handle(), &creds, &id, this, &err);
    if (st == IOTGW_PENDING) return;  // complete() continues
    pending_self_.reset();
    count(stage, st);
    if (st != IOTGW_OK) {
      finish(st,
             "stage '" + stage.name + "': " + (err.message[0] != '\0' ? err.message : "refused"));
      return;
    }
    adopt(id);
  }
  if (identity_.device_id.empty()) {
    finish(IOTGW_ERR_REFUSED, "no device identity (empty client id and no authenticator set one)");
    return;
  }
  finish(IOTGW_OK, {});
}

void AuthRun::complete(iotgw_status status, const iotgw_identity* identity, const char* reason) {
  // Any thread: copy what we were lent, then continue on the connection's loop.
  bridge::Identity got;
  if (identity != nullptr) {
    got.device_id = str(identity->device_id);
    got.module_id = str(identity->module_id);
    got.auth_method = str(identity->auth_method);
    got.hub_token = str(identity->hub_token);
  }
  std::string why = reason != nullptr ? reason : "refused";
  boost::asio::post(
      loop_, [self = std::move(pending_self_), status, got = std::move(got), why = std::move(why)] {
        if (!self) return;  // completed twice: the first one counted
        self->count(self->pipeline_->authenticators()[self->next_ - 1], status);
        if (status != IOTGW_OK) {
          self->finish(status, "stage '" + self->pipeline_->authenticators()[self->next_ - 1].name +
                                   "': " + why);
          return;
        }
        if (!got.device_id.empty()) self->identity_.device_id = got.device_id;
        if (!got.module_id.empty()) self->identity_.module_id = got.module_id;
        if (!got.auth_method.empty()) self->identity_.auth_method = got.auth_method;
        if (!got.hub_token.empty()) self->identity_.hub_token = got.hub_token;
        self->step();
      });
}

void AuthRun::count(const StageRef& stage, iotgw_status status) {
  if (!stage.metrics) return;
  (status == IOTGW_OK ? stage.metrics->auth_accepted : stage.metrics->auth_refused).inc();
}

void AuthRun::finish(iotgw_status status, const std::string& reason) {
  if (done_) std::exchange(done_, nullptr)(status, identity_, reason);
}

}  // namespace iotgw::runtime
