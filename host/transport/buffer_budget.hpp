// The bytes all device connections of the process hold in their buffers (input read but not
// yet used by an adapter, output not yet on the wire), against one cap (gateway.
// max_buffered_bytes). Past the cap every connection that holds input (part of a message) stops
// reading before its next read, and resumes once the total is back under the low mark (7/8 of
// the cap), so a flood of large or half-sent messages cannot take the process's memory, whoever
// sends it. A connection holding nothing reads on: it adds at most one read, which its adapter
// uses whole or keeps (and then waits too). Pausing it as well would free nothing, and would stop
// every device while the half-sent messages wait for their keep-alive to end them.
//
// Shared by every loop: the total is an atomic, added to by each connection as its holding
// changes; the waiting connections are under a mutex taken only while over the cap.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "iotgw/common/metrics.hpp"

namespace iotgw::transport {

class Connection;

class BufferBudget {
 public:
  // The gauges (may be null) follow the total and the connections waiting, for /metrics;
  // `pauses` counts each connection made to wait.
  BufferBudget(metrics::Gauge* bytes, metrics::Gauge* waiting, metrics::Counter* pauses);
  BufferBudget(const BufferBudget&) = delete;
  BufferBudget& operator=(const BufferBudget&) = delete;

  // A connection's holding grew (or shrank, negative) by `delta` bytes.
  void add(std::int64_t delta);
  // True while the total is past the cap: a connection about to read waits instead.
  bool over() const {
    const auto cap = cap_.load(std::memory_order_relaxed);
    return cap > 0 && used_.load(std::memory_order_relaxed) > static_cast<std::int64_t>(cap);
  }
  // Parks `conn` (already paused) until the total falls under the low mark; false, with nothing
  // parked, when it already has (the caller reads on).
  bool wait(const std::shared_ptr<Connection>& conn);

  // 0: no bound (the total is still counted). A reload may change it while connections read.
  void set_cap(std::size_t cap);

 private:
  bool under_low_mark() const {
    const auto cap = cap_.load();
    return cap == 0 || used_.load() <= static_cast<std::int64_t>(cap - cap / 8);
  }
  void release_waiters();

  std::atomic<std::size_t> cap_{0};
  metrics::Gauge* bytes_;
  metrics::Gauge* waiting_gauge_;
  metrics::Counter* pauses_;
  std::atomic<std::int64_t> used_{0};
  std::atomic<bool> anyone_waiting_{false};
  std::mutex mutex_;
  std::vector<std::weak_ptr<Connection>> waiting_;
  std::size_t prune_at_ = 64;  // under mutex_
};

}  // namespace iotgw::transport
