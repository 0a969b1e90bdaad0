// Keeps a misbehaving client from flooding the log: the same kind of line, written more than
// `lines` times within one `window`, is counted instead of written, and the count is reported
// once the window ends.
//
// A line's kind is its component plus its message with the ASCII digits taken out. A flood of
// per-connection errors differs only in numbers (peer addresses and ports, connection and packet
// counters, byte counts), so 200 malformed connections from 200 ports collapse into one kind,
// while lines naming different devices or different reasons stay apart: those are different
// problems an operator needs to see. No call site has to pick a key, so plugins get this too.
//
// Not thread-safe on its own: the Logger calls it under its lock. Time is passed in, so tests
// drive it with a clock of their own.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace iotgw {

struct RepeatLimit {
  unsigned lines = 10;  // written per kind and window; 0 turns the limiter off
  std::chrono::steady_clock::duration window = std::chrono::seconds(5);
  std::size_t max_kinds = 4096;  // kinds tracked at once; lines of further kinds pass unlimited
};

// What one window held back: written as "suppressed N similar lines" when the window ends.
struct SuppressedLines {
  int level = 0;  // the LogLevel of the window's first line
  std::string component;
  std::string sample;  // the window's first message, to say what was suppressed
  std::uint64_t count = 0;
};

class RepeatLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit RepeatLimiter(RepeatLimit limit = {}) : limit_(limit) {}

  // The kind of a line: hashed without allocating, so it can be computed outside any lock.
  static std::uint64_t kind_of(std::string_view component, std::string_view message);

  // True if the line may be written. Windows that ended by `now` with lines held back are
  // appended to `ended` (and forgotten), whatever their kind, so a flood that stopped is still
  // reported at the next line of any kind.
  bool admit(std::uint64_t kind, int level, std::string_view component, std::string_view message,
             TimePoint now, std::vector<SuppressedLines>& ended);

  // Every window's held-back count, ended or not (at shutdown), and forgets them all.
  std::vector<SuppressedLines> drain();

 private:
  struct Window {
    TimePoint start;
    std::uint64_t seen = 0;
    SuppressedLines held;
  };
  void sweep(TimePoint now, std::vector<SuppressedLines>& ended);

  RepeatLimit limit_;
  std::unordered_map<std::uint64_t, Window> windows_;
  TimePoint next_sweep_{};
};

}  // namespace iotgw
