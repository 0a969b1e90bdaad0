#include "log_line.hpp"

#include <nlohmann/json.hpp>

#include "iotgw/common/clock.hpp"

namespace iotgw::detail {

namespace {

std::string text_line(const std::string& time, LogLevel level, std::string_view component,
                      std::string_view message, LogFields fields) {
  const std::string_view name = to_string(level);
  std::string line;
  line.reserve(48 + component.size() + message.size());
  line += time;
  line += ' ';
  line += name;
  line.append(6 - name.size(), ' ');
  line += '[';
  line += component;
  line += "] ";
  line += message;
  for (const auto& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    line += f.value;
  }
  line += '\n';
  return line;
}

std::string json_line(const std::string& time, LogLevel level, std::string_view component,
                      std::string_view message, LogFields fields) {
  // ordered_json keeps time, level, component, message first, as a person reads them.
  nlohmann::ordered_json line;
  line["time"] = time;
  line["level"] = to_string(level);
  line["component"] = component;
  line["message"] = message;
  for (const auto& f : fields) {
    const std::string key(f.key);
    if (!line.contains(key)) line[key] = f.value;
  }
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
}

}  // namespace

std::string format_log_line(LogFormat format, std::int64_t unix_ms, LogLevel level,
                            std::string_view component, std::string_view message,
                            LogFields fields) {
  const std::string time = iso8601_utc(unix_ms);
  return format == LogFormat::json ? json_line(time, level, component, message, fields)
                                   : text_line(time, level, component, message, fields);
}

}  // namespace iotgw::detail
