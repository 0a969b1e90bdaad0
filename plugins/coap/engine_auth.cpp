// Who the peer is: the DTLS identity the host hands the auth stages, or on plain UDP the `d`
// (device id) and `p` (credential) query parameters, logged in once per peer. Requests that come
// while the login is pending wait for it, within max_pending_requests.
#include "engine.hpp"

namespace iotgw::coap {

bool Engine::identify(ExchangeId ex, const Message& m, const Query& q) {
  if (auth_ != AuthState::none) {
    if (q.device && *q.device != login_) {
      // Another device behind the same address: a NAT gave a new device the mapping of one that
      // went quiet. Answering 4.03 would lock it out until the old session idled away; ending the
      // session instead lets the device's retransmission start a session of its own.
      host_.close("the address is now used by device '" + *q.device + "', not '" + login_ + "'");
      closed_ = true;
      return false;
    }
    if (auth_ == AuthState::done) return true;
    exchanges_.at(ex).waiting = m;
    return false;
  }
  if (!q.device && !options_.secure_transport) {
    respond(ex, code::unauthorized, "who is this? add the query parameters d (device id) and p");
    return false;
  }
  // The device id goes as MQTT's client id and user name do: auth-sas reads the client id,
  // auth-file the user name. On DTLS the host adds the transport's identity itself.
  const auto token = host_.authenticate(
      Credentials{q.device.value_or(""), q.device.value_or(""), q.credential.value_or("")});
  if (!token) {
    respond(ex, code::service_unavailable, "the login could not start");
    return false;
  }
  auth_ = AuthState::pending;
  auth_token_ = *token;
  login_ = q.device.value_or("");
  exchanges_.at(ex).waiting = m;
  return false;
}

void Engine::on_auth_result(std::uint64_t token, iotgw_status status, const std::string& device_id,
                            const std::string& reason, Time now) {
  if (auth_ != AuthState::pending || token != auth_token_) return;
  std::vector<ExchangeId> held;  // in arrival order, as exchange ids grow
  for (const auto& [ex, e] : exchanges_) {
    if (e.waiting) held.push_back(ex);
  }
  if (status == IOTGW_OK) {
    auth_ = AuthState::done;
    device_ = device_id.empty() ? login_ : device_id;
    debug("logged in");
    for (const auto ex : held) {
      const auto it = exchanges_.find(ex);
      if (it == exchanges_.end()) continue;
      const auto m = std::move(*it->second.waiting);
      it->second.waiting.reset();
      dispatch(ex, m, parse_query(m), now);
    }
  } else {
    auth_ = AuthState::none;
    host_.log_warning("coap: login as '" + login_ + "' refused: " + reason);
    login_.clear();
    // A refusal leaves the peer unauthenticated: its next request with credentials tries again.
    const auto answer =
        status == IOTGW_ERR_UNAVAILABLE ? code::service_unavailable : code::unauthorized;
    for (const auto ex : held) respond(ex, answer, "login refused: " + reason);
  }
  flush_outbox(now);
  arm_timer(now);
}

}  // namespace iotgw::coap
