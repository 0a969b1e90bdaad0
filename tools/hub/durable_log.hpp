// --data-dir: what the hub accepted, in an append-only file written before the disposition goes
// out, so a hub killed (even with SIGKILL) and started again on the same folder has lost nothing
// it accepted. The kernel holds each write once write() returns; `fsync` makes it survive power
// loss too, at a cost per message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <proton/message.hpp>

#include "encoded_message.hpp"

namespace iotgw::hub {

class DurableLog {
 public:
  struct Replay {
    std::function<void(std::int64_t seq, proton::message)> telemetry;
    std::function<void(const std::string& device, std::int64_t seq, std::int64_t expires_unix_ms,
                       std::int64_t enqueued_unix_ms, proton::message)>
        c2d;
    std::function<void(const std::string& device, std::int64_t seq)> c2d_abandoned;
    std::function<void(const std::string& device, std::int64_t seq, const std::string& how)>
        c2d_ended;
    // The next sequence numbers when the log was compacted: never hand one out twice.
    std::function<void(std::int64_t telemetry_next, std::int64_t c2d_next)> sequences;
    // A device's whole twin as it was written; the last one for a device is its twin.
    std::function<void(const std::string& device, const std::string& document)> twin;
  };

  DurableLog() = default;  // memory only: every append does nothing
  // Opens (creating) dir/hub.log, replays it through `replay`, and keeps appending to it. A torn
  // last record (a crash mid-write) is dropped. Throws std::runtime_error.
  DurableLog(const std::filesystem::path& dir, bool fsync, const Replay& replay);
  ~DurableLog();
  DurableLog(const DurableLog&) = delete;
  DurableLog& operator=(const DurableLog&) = delete;

  bool enabled() const { return fd_ != -1; }
  // Rewrites the file with only what `write_all` appends (what is still live), so the log does
  // not grow without end across restarts. The old file stays until the new one is complete.
  void compact(const std::function<void(DurableLog&)>& write_all);
  void telemetry(std::int64_t seq, const EncodedMessage& m);
  void c2d(const std::string& device, std::int64_t seq, std::int64_t expires_unix_ms,
           std::int64_t enqueued_unix_ms, const EncodedMessage& m);
  void c2d_abandoned(const std::string& device, std::int64_t seq);
  void c2d_ended(const std::string& device, std::int64_t seq, const std::string& how);
  void sequences(std::int64_t telemetry_next, std::int64_t c2d_next);
  // A twin after a change, whole (an empty document: the twin is gone with its device).
  void twin(const std::string& device, const std::string& document);

 private:
  void append(char type, const std::string& payload);

  std::filesystem::path file_;
  int fd_ = -1;  // -1: memory only; -2: broken by a failed write, every append throws
  bool fsync_ = false;
};

}  // namespace iotgw::hub
