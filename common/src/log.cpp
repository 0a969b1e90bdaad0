#include "iotgw/common/log.hpp"

#include <array>
#include <chrono>

#include "iotgw/common/clock.hpp"
#include "log_line.hpp"

namespace iotgw {

namespace {
constexpr std::array<std::string_view, 5> kLevels = {"trace", "debug", "info", "warn", "error"};
constexpr std::array<std::string_view, 2> kFormats = {"text", "json"};

template <typename Enum, std::size_t N>
std::optional<Enum> parse_name(const std::array<std::string_view, N>& names,
                               std::string_view text) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == text) return static_cast<Enum>(i);
  }
  return std::nullopt;
}
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
  return parse_name<LogLevel>(kLevels, text);
}

std::string_view to_string(LogLevel level) {
  return kLevels.at(static_cast<std::size_t>(level));
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  return parse_name<LogFormat>(kFormats, text);
}

std::string_view to_string(LogFormat format) {
  return kFormats.at(static_cast<std::size_t>(format));
}

Logger::~Logger() {
  std::vector<SuppressedLines> held;
  {
    std::lock_guard lock(limit_mutex_);
    held = limiter_.drain();
  }
  for (const auto& h : held) report(h);
}

void Logger::log(LogLevel level, std::string_view component, std::string_view message,
                 LogFields fields) {
  if (!enabled(level)) return;
  if (level >= LogLevel::warn) {
    const auto kind = RepeatLimiter::kind_of(component, message);
    std::vector<SuppressedLines> ended;  // no allocation unless a window ended
    bool admitted = false;
    {
      std::lock_guard lock(limit_mutex_);
      admitted = limiter_.admit(kind, static_cast<int>(level), component, message,
                                std::chrono::steady_clock::now(), ended);
    }
    for (const auto& h : ended) report(h);
    if (!admitted) return;
  }
  write(level, component, message, fields);
}

void Logger::report(const SuppressedLines& held) {
  const std::string count = std::to_string(held.count);
  write(static_cast<LogLevel>(held.level), held.component, "suppressed " + count + " similar lines",
        {{"suppressed", count}, {"like", held.sample}});
}

void Logger::write(LogLevel level, std::string_view component, std::string_view message,
                   LogFields fields) {
  const std::string line =
      detail::format_log_line(format(), unix_millis(), level, component, message, fields);
  std::lock_guard lock(write_mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace iotgw
