// A host for the CoAP engine that records what the engine asks of it and answers with fresh
// tokens: the engine's unit tests and its fuzzer drive it through this, with no socket.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "codec/codec.hpp"
#include "engine.hpp"

namespace iotgw::coap::testing_host {

struct Settled {
  std::uint64_t delivery;
  iotgw_outcome outcome;
  std::string reason;
};

class RecordingHost final : public EngineHost {
 public:
  std::vector<Message> written;                // each datagram, decoded
  std::vector<std::vector<std::uint8_t>> raw;  // and as sent
  std::size_t undecodable = 0;                 // datagrams we wrote that do not decode
  std::optional<std::chrono::milliseconds> timer;
  std::vector<Credentials> auths;
  std::vector<std::pair<Upstream, bool>> upstream;
  std::vector<bool> downstream_calls;
  std::vector<Settled> settled;
  std::vector<std::string> warnings, debugs;
  std::uint64_t next_token = 100;
  bool refuse_auth = false;      // authenticate cannot start
  bool refuse_upstream = false;  // send_upstream refuses
  bool keep_logs = true;

  void write(std::span<const std::uint8_t> datagram) override {
    raw.emplace_back(datagram.begin(), datagram.end());
    Message m;
    std::string error;
    if (decode(datagram, m, error) != Decoded::message) {
      ++undecodable;
      return;
    }
    written.push_back(std::move(m));
  }
  void set_timer(std::chrono::milliseconds after) override { timer = after; }
  void cancel_timer() override { timer.reset(); }
  std::optional<std::uint64_t> authenticate(const Credentials& c) override {
    if (refuse_auth) return std::nullopt;
    auths.push_back(c);
    return next_token++;
  }
  std::optional<std::uint64_t> send_upstream(Upstream m, bool at_least_once) override {
    if (refuse_upstream) return std::nullopt;
    upstream.emplace_back(std::move(m), at_least_once);
    return next_token++;
  }
  void set_downstream(bool enabled) override { downstream_calls.push_back(enabled); }
  void settle(std::uint64_t delivery, iotgw_outcome outcome, const std::string& reason) override {
    settled.push_back({delivery, outcome, reason});
  }
  void log_warning(const std::string& w) override {
    if (keep_logs) warnings.push_back(w);
  }
  void log_debug(const std::string& d) override {
    if (keep_logs) debugs.push_back(d);
  }
  void close(const std::string& reason) override { closed = reason; }
  std::optional<std::string> closed;
};

}  // namespace iotgw::coap::testing_host
