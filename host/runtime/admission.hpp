// A listener's gate for new connections, beside max_connections: how many one source address
// may hold, how many may arrive per second, and how many may be unfinished at once (a TLS or
// DTLS handshake, a WebSocket upgrade, a PROXY header, or a device's login still to be
// answered). Scanners that open sockets and never speak, half-sent CONNECT floods and handshake
// floods meet these bounds before they can crowd out devices; each refusal is counted by reason.
// Shared by the listener's loops: the counts are atomics or under one mutex, taken once per
// connection, never per message.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "iotgw/common/metrics.hpp"
#include "runtime/token_bucket.hpp"

namespace iotgw::runtime {

struct AdmissionLimits {
  std::uint64_t per_address = 0;  // connections one source address holds at most; 0: no bound
  double rate = 0;                // new connections per second, bursts of one second's; 0: none
  std::uint64_t pending = 0;      // connections not yet logged in at once; 0: no bound
};

// Why a new connection was refused; the listener counts max_connections itself.
enum class Refusal { none, rate, pending, per_address, max_connections };

class Admission : public std::enable_shared_from_this<Admission> {
 public:
  using Clock = std::chrono::steady_clock;

  // One connection's place: among the pending until established(), and in its address's count
  // until released. Both end at the latest when the ticket does.
  class Ticket {
   public:
    explicit Ticket(std::shared_ptr<Admission> gate) : gate_(std::move(gate)) {}
    ~Ticket() { release(); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

    // Counts the connection against its source address ("ip:port" or "[v6]:port", as streams
    // name peers): false when the address holds per_address already.
    bool count_address(const std::string& peer);
    // The device logged in (or was answered): no longer pending.
    void established();
    void release();

   private:
    std::shared_ptr<Admission> gate_;
    std::string address_;  // empty until counted
    bool pending_ = true;
  };

  // `pending_gauge` (may be null) follows the pending count, for /metrics.
  Admission(AdmissionLimits limits, metrics::Gauge* pending_gauge)
      : limits_(limits), pending_gauge_(pending_gauge), rate_(limits.rate, limits.rate) {}

  // At accept: the rate and the pending bound. A ticket, or nullptr with the reason.
  std::shared_ptr<Ticket> admit(Clock::time_point now, Refusal& why);
  std::uint64_t pending() const { return pending_.load(std::memory_order_relaxed); }
  const AdmissionLimits& limits() const { return limits_; }

  // The address part of a peer "ip:port" / "[v6]:port".
  static std::string address_of(const std::string& peer);

 private:
  void count_pending(std::int64_t n);

  const AdmissionLimits limits_;
  metrics::Gauge* pending_gauge_;
  std::atomic<std::uint64_t> pending_{0};
  std::mutex mutex_;
  TokenBucket rate_;  // under mutex_
  std::unordered_map<std::string, std::uint64_t> per_address_;
};

}  // namespace iotgw::runtime
