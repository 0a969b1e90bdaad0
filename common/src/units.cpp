#include "iotgw/common/units.hpp"

#include <array>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <utility>

namespace iotgw {

namespace {

// Splits "123unit" into the number and the unit; nullopt when there is no leading number.
std::optional<std::pair<std::uint64_t, std::string_view>> split_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto* begin = text.data();
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin) return std::nullopt;
  std::string_view unit(ptr, static_cast<std::size_t>(end - ptr));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return std::pair{value, unit};
}

std::optional<std::uint64_t> scaled(std::uint64_t value, std::uint64_t factor) {
  if (factor != 0 && value > std::numeric_limits<std::uint64_t>::max() / factor) {
    return std::nullopt;
  }
  return value * factor;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  auto [value, unit] = *parts;
  constexpr std::array<std::pair<std::string_view, std::uint64_t>, 6> kUnits = {
      {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) {
      auto ms = scaled(value, factor);
      if (!ms || *ms > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
      }
      return std::chrono::milliseconds(static_cast<std::int64_t>(*ms));
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  auto parts = split_number(text);
  if (!parts) return std::nullopt;
  auto [value, unit] = *parts;
  constexpr std::uint64_t kK = 1024;
  constexpr std::array<std::pair<std::string_view, std::uint64_t>, 9> kUnits = {
      {{"", 1},
       {"B", 1},
       {"KB", kK},
       {"KiB", kK},
       {"MB", kK * kK},
       {"MiB", kK * kK},
       {"GB", kK * kK * kK},
       {"GiB", kK * kK * kK},
       {"K", kK}}};
  for (const auto& [name, factor] : kUnits) {
    if (unit == name) return scaled(value, factor);
  }
  return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view text) {
  for (auto t : {"true", "yes", "on"}) {
    if (text == t) return true;
  }
  for (auto f : {"false", "no", "off"}) {
    if (text == f) return false;
  }
  return std::nullopt;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out += separator;
    out += items[i];
  }
  return out;
}

}  // namespace iotgw
