#include "iotgw/common/log.hpp"

#include <array>
#include <chrono>
#include <ctime>

namespace iotgw {

namespace {
constexpr std::array<std::string_view, 5> kNames = {"trace", "debug", "info", "warn", "error"};
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == text) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::string_view to_string(LogLevel level) {
  return kNames.at(static_cast<std::size_t>(level));
}

void Logger::log(LogLevel level, std::string_view component, std::string_view message) {
  if (!enabled(level)) return;
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto secs = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::array<char, 32> stamp{};
  std::strftime(stamp.data(), stamp.size(), "%Y-%m-%dT%H:%M:%S", &tm);

  std::string line;
  line.reserve(48 + component.size() + message.size());
  line += stamp.data();
  line += '.';
  line += static_cast<char>('0' + millis / 100);
  line += static_cast<char>('0' + millis / 10 % 10);
  line += static_cast<char>('0' + millis % 10);
  line += "Z ";
  line += to_string(level);
  line.append(6 - to_string(level).size(), ' ');
  line += '[';
  line += component;
  line += "] ";
  line += message;
  line += '\n';
  std::lock_guard lock(write_mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace iotgw
