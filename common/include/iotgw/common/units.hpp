// Human-friendly quantities in configuration: durations ("250ms", "30s") and sizes ("64KB").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iotgw {

// "250ms", "30s", "5m", "2h", "1d" or plain milliseconds ("1500").
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// "512", "512B", "64KB"/"64KiB" (1024), "1MB"/"1MiB", "1GB"/"1GiB". Sizes in config are memory
// sizes, so K means 1024 either way, as in Mosquitto's and nginx's configs.
std::optional<std::uint64_t> parse_size(std::string_view text);

std::optional<std::int64_t> parse_int(std::string_view text);
std::optional<double> parse_double(std::string_view text);
// true/false, yes/no, on/off (YAML 1.1's spellings, which operators type).
std::optional<bool> parse_bool(std::string_view text);

std::string join(const std::vector<std::string>& items, std::string_view separator);

}  // namespace iotgw
