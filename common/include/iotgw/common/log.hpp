// Line-oriented logging shared by the host and the tools. One Logger lives in main and is passed
// down by reference; plugins reach it through the host api.
#pragma once

#include <atomic>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace iotgw {

enum class LogLevel { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };

std::optional<LogLevel> parse_log_level(std::string_view text);
std::string_view to_string(LogLevel level);

class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::info, std::FILE* out = stderr)
      : level_(level), out_(out) {}

  void set_level(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
  LogLevel level() const { return level_.load(std::memory_order_relaxed); }
  bool enabled(LogLevel level) const { return level >= this->level(); }

  // One line: "2026-11-26T02:53:39.123Z info  [component] message".
  void log(LogLevel level, std::string_view component, std::string_view message);

  void debug(std::string_view c, std::string_view m) { log(LogLevel::debug, c, m); }
  void info(std::string_view c, std::string_view m) { log(LogLevel::info, c, m); }
  void warn(std::string_view c, std::string_view m) { log(LogLevel::warn, c, m); }
  void error(std::string_view c, std::string_view m) { log(LogLevel::error, c, m); }

 private:
  std::atomic<LogLevel> level_;
  std::FILE* out_;
  std::mutex write_mutex_;  // whole lines, never interleaved across loops
};

}  // namespace iotgw
