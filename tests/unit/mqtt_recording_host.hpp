// A host for the MQTT engine that records what the engine asks of it and answers with fresh
// tokens: the unit tests of both protocol levels drive the engine through it.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "engine.hpp"

namespace iotgw::mqtt::testing_host {

// An operation the engine asked of its host.
struct Request {
  iotgw_op_kind kind;
  std::string body;
  std::uint64_t token;
};

// The device's answer to a method call, as handed to the host.
struct Response {
  std::uint64_t id;
  int status;
  std::string body;
  bool operator==(const Response&) const = default;
};

// Records what the engine asks for; answers authenticate, send_upstream and request with fresh
// tokens (request only while `takes_operations`).
class RecordingHost final : public EngineHost {
 public:
  std::vector<Packet> written;
  std::string closed;  // the reason, once closed
  bool paused = false;
  bool held = false;
  std::map<Timer, std::chrono::milliseconds> timers;
  std::vector<Credentials> auths;
  std::vector<std::pair<MessageData, bool>> upstream;
  std::vector<bool> downstream_calls;
  std::vector<std::pair<std::uint64_t, iotgw_outcome>> settled;
  std::vector<std::string> settle_reasons;
  std::vector<std::string> warnings;
  std::map<std::string, Filters> sessions;
  std::vector<Request> requests;
  bool takes_operations = true;
  std::vector<Response> responses;
  std::vector<std::string> debugs;
  std::uint64_t next_token = 100;
  ProtocolLevel level = ProtocolLevel::v311;  // what the engine writes is read at this level
  std::map<std::string, std::chrono::seconds> expiries;

  void write(std::span<const std::uint8_t> bytes) override {
    Packet p;
    std::size_t used = 0;
    std::string error;
    ASSERT_EQ(decode(bytes, {.max_packet = 1 << 20, .level = level}, p, used, error),
              Decoded::packet)
        << error;
    written.push_back(p);
  }
  void close(const std::string& reason) override { closed = reason; }
  void pause_reading(bool p) override { paused = p; }
  bool reading_held() override { return held; }
  void set_timer(Timer t, std::chrono::milliseconds after) override { timers[t] = after; }
  void cancel_timer(Timer t) override { timers.erase(t); }
  std::chrono::steady_clock::time_point now() override { return clock; }
  std::chrono::steady_clock::time_point clock{};  // moved by the tests
  std::optional<std::uint64_t> authenticate(const Credentials& c) override {
    auths.push_back(c);
    return next_token++;
  }
  Sent send_upstream(MessageData m, bool qos1) override {
    upstream.emplace_back(std::move(m), qos1);
    if (over_rate) return {IOTGW_ERR_LIMIT, 0};
    return {IOTGW_OK, next_token++};
  }
  void refuse_over_rate() override { refusing_over_rate = true; }
  bool over_rate = false;  // send_upstream answers IOTGW_ERR_LIMIT
  bool refusing_over_rate = false;
  void set_downstream(bool enabled) override { downstream_calls.push_back(enabled); }
  void settle(std::uint64_t delivery, iotgw_outcome outcome, const std::string& reason) override {
    settled.emplace_back(delivery, outcome);
    settle_reasons.push_back(reason);
  }
  bool resume_session(const std::string& device, bool clean, Filters& filters) override {
    auto it = sessions.find(device);
    const bool present = !clean && it != sessions.end();
    filters = present ? it->second : Filters{};
    if (clean) sessions.erase(device);
    return present;
  }
  void store_session(const std::string& device, const Filters& filters,
                     std::chrono::seconds expiry) override {
    sessions[device] = filters;
    expiries[device] = expiry;
  }
  std::optional<std::uint64_t> request(iotgw_op_kind kind, std::string_view body) override {
    if (!takes_operations) return std::nullopt;
    requests.push_back({kind, std::string(body), next_token});
    return next_token++;
  }
  bool respond(std::uint64_t id, int status, std::string_view body) override {
    responses.push_back({id, status, std::string(body)});
    return true;
  }
  void log_warning(const std::string& w) override { warnings.push_back(w); }
  void log_debug(const std::string& d) override { debugs.push_back(d); }
};

inline std::vector<std::uint8_t> bytes_of(const Packet& p,
                                          ProtocolLevel level = ProtocolLevel::v311) {
  std::vector<std::uint8_t> out;
  encode(p, out, level);
  return out;
}

inline Connect connect_as(const std::string& device, bool clean = true) {
  Connect c;
  c.client_id = device;
  c.clean_session = clean;
  c.keep_alive = 10;
  c.username = "hub.azure-devices.net/" + device + "/?api-version=2021-04-12";
  c.password = "token";
  return c;
}

}  // namespace iotgw::mqtt::testing_host
