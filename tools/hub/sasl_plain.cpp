#include "sasl_plain.hpp"

#include <proton/sasl_plugin.h>

#include <cstring>
#include <string>

namespace iotgw::hub {

namespace {

// Proton's plug-in interface is C callbacks with no user data: the check has to live where they
// can reach it. Set once at start-up, read-only afterwards.
PlainCheck& installed_check() {
  static PlainCheck check;
  return check;
}

struct Context {
  std::string user;  // Proton keeps the pointer given to pnx_sasl_set_succeeded
};

void free_context(pn_transport_t* t) {
  delete static_cast<Context*>(
      pnx_sasl_get_context(t));  // NOLINT(cppcoreguidelines-owning-memory): C API ownership
  pnx_sasl_set_context(t, nullptr);
}

const char* mechanisms(pn_transport_t*) {
  return "PLAIN ANONYMOUS";
}

bool init_server(pn_transport_t* t) {
  pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
  return true;
}

bool init_client(pn_transport_t*) {
  return false;
}  // the hub only serves

void prepare_write(pn_transport_t*) {}

void succeed(pn_transport_t* t, std::string user) {
  auto* ctx = new Context{
      std::move(user)};  // NOLINT(cppcoreguidelines-owning-memory): freed by free_context
  free_context(t);
  pnx_sasl_set_context(t, ctx);
  pnx_sasl_set_succeeded(t, ctx->user.c_str(), nullptr);
}

void process_init(pn_transport_t* t, const char* mechanism, const pn_bytes_t* recv) {
  const std::string mech = mechanism != nullptr ? mechanism : "";
  if (mech == "ANONYMOUS") {
    succeed(t, "anonymous");
  } else if (mech == "PLAIN" && recv != nullptr) {
    // authzid NUL authcid NUL password
    const std::string_view data(recv->start, recv->size);
    const auto first = data.find('\0');
    const auto second = first == std::string_view::npos ? first : data.find('\0', first + 1);
    if (second == std::string_view::npos) {
      pnx_sasl_logf(t, PN_LEVEL_ERROR, "PLAIN: malformed response");
      pnx_sasl_set_failed(t);
    } else {
      const std::string_view user = data.substr(first + 1, second - first - 1);
      const std::string_view password = data.substr(second + 1);
      const auto& check = installed_check();
      std::string result = "no check installed";
      if (check && check(user, password, result)) {
        succeed(t, result);
      } else {
        const std::string& why = result;
        pnx_sasl_logf(t, PN_LEVEL_ERROR, "PLAIN refused for %.*s: %s",
                      static_cast<int>(user.size()), user.data(), why.c_str());
        pnx_sasl_set_failed(t);
      }
    }
  } else {
    pnx_sasl_set_failed(t);
  }
  pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

void process_response(pn_transport_t* t, const pn_bytes_t*) {
  pnx_sasl_set_failed(t);  // neither mechanism has a second round
  pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

bool process_mechanisms(pn_transport_t*, const char*) {
  return false;
}
void process_challenge(pn_transport_t*, const pn_bytes_t*) {}
void process_outcome(pn_transport_t*, const pn_bytes_t*) {}
bool can_encrypt(pn_transport_t*) {
  return false;
}
ssize_t max_encrypt_size(pn_transport_t*) {
  return 0;
}
ssize_t encode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}
ssize_t decode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}

const pnx_sasl_implementation kImplementation = {free_context,
                                                 mechanisms,
                                                 init_server,
                                                 init_client,
                                                 prepare_write,
                                                 process_init,
                                                 process_response,
                                                 process_mechanisms,
                                                 process_challenge,
                                                 process_outcome,
                                                 can_encrypt,
                                                 max_encrypt_size,
                                                 encode,
                                                 decode};

}  // namespace

void install_sasl_plain(PlainCheck check) {
  installed_check() = std::move(check);
  pnx_sasl_set_default_implementation(&kImplementation);
}

}  // namespace iotgw::hub
