// Line-oriented logging shared by the host and the tools. One Logger lives in main and is passed
// down by reference; plugins reach it through the host api.
#pragma once

#include <atomic>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "iotgw/common/repeat_limiter.hpp"

namespace iotgw {

enum class LogLevel { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };
// text: "2026-11-26T02:53:39.123Z info  [component] message key=value"
// json: {"time":"2026-11-26T02:53:39.123Z","level":"info","component":"...","message":"...",
//        "key":"value"}, one object a line, for log shippers.
enum class LogFormat { text = 0, json = 1 };

std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view to_string(LogLevel level);
std::optional<LogFormat> parse_log_format(std::string_view text);
std::string_view to_string(LogFormat format);

// A named value a caller adds to a line: " key=value" in text, a member of the object in JSON
// (never replacing time, level, component or message).
struct LogField {
  std::string_view key;
  std::string_view value;
};
using LogFields = std::initializer_list<LogField>;

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::info, std::FILE* out = stderr,
                  LogFormat format = LogFormat::text, RepeatLimit limit = {})
      : level_(level), format_(format), out_(out), limiter_(limit) {}
  ~Logger();  // reports what the rate limit still holds back
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void set_level(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  LogLevel level() const { return level_.load(std::memory_order_relaxed); }
  bool enabled(LogLevel level) const { return level >= this->level(); }
  void set_format(LogFormat format) { format_.store(format, std::memory_order_relaxed); }
  LogFormat format() const { return format_.load(std::memory_order_relaxed); }

  // One line, whole, never interleaved with another loop's. Warnings and errors go through the
  // repeat limiter (repeat_limiter.hpp); info and below are the operator's own events (started,
  // reloaded, listening) or asked-for detail, and are always written.
  void log(LogLevel level, std::string_view component, std::string_view message,
           LogFields fields = {});

  void debug(std::string_view c, std::string_view m, LogFields f = {}) {
    log(LogLevel::debug, c, m, f);
  }
  void info(std::string_view c, std::string_view m, LogFields f = {}) {
    log(LogLevel::info, c, m, f);
  }
  void warn(std::string_view c, std::string_view m, LogFields f = {}) {
    log(LogLevel::warn, c, m, f);
  }
  void error(std::string_view c, std::string_view m, LogFields f = {}) {
    log(LogLevel::error, c, m, f);
  }

 private:
  void write(LogLevel level, std::string_view component, std::string_view message,
             LogFields fields);
  void report(const SuppressedLines& held);

  std::atomic<LogLevel> level_;
  std::atomic<LogFormat> format_;
  std::FILE* out_;
  std::mutex limit_mutex_;
  RepeatLimiter limiter_;   // guarded by limit_mutex_
  std::mutex write_mutex_;  // whole lines, never interleaved across loops
};

}  // namespace iotgw
