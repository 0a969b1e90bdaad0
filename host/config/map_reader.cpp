#include "config/map_reader.hpp"

#include <algorithm>

#include "iotgw/common/units.hpp"

namespace iotgw::config {

MapReader::MapReader(const YAML::Node& node, std::string file, std::string what,
                     std::vector<std::string> valid_keys, Diagnostics& diags, bool allow_null)
    : node_(node), file_(std::move(file)), what_(std::move(what)), diags_(diags) {
  if (!node_.IsDefined()) return;  // absent: the caller's defaults hold
  if (!node_.IsMap()) {
    if (!(allow_null && node_.IsNull())) {
      diags_.add(mark_of(file_, node_),
                 what_ + ": expected a mapping of keys (valid: " + join(valid_keys, ", ") + ")");
    }
    return;
  }
  is_map_ = true;
  for (const auto& kv : node_) {
    const auto key = kv.first.Scalar();
    if (std::find(valid_keys.begin(), valid_keys.end(), key) == valid_keys.end()) {
      diags_.add(mark_of(file_, kv.first),
                 what_ + ": unknown key '" + key + "' (valid: " + join(valid_keys, ", ") + ")");
    }
  }
}

bool MapReader::has(const std::string& key) const {
  if (!is_map_) return false;
  const YAML::Node n = node(key);
  return n.IsDefined() && !n.IsNull();
}

YAML::Node MapReader::node(const std::string& key) const {
  if (!is_map_) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& map = node_;  // const lookup: never inserts the key
  return map[key];
}

Mark MapReader::mark(const std::string& key) const {
  return has(key) ? mark_of(file_, node_[key]) : mark();
}

void MapReader::error(const std::string& key, const std::string& message) {
  diags_.add(mark(key), what_ + ": " + message);
}

const YAML::Node& MapReader::scalar(const std::string& key, const YAML::Node& n,
                                    const char* expected, bool& good) {
  good = n.IsScalar();
  if (!good) error(key, "'" + key + "' must be " + expected);
  return n;
}

std::optional<std::string> MapReader::string(const std::string& key, bool required) {
  if (!has(key)) {
    if (required) diags_.add(mark(), what_ + ": missing required key '" + key + "'");
    return std::nullopt;
  }
  bool good = false;
  const auto n = node(key);
  scalar(key, n, "a string", good);
  if (!good) return std::nullopt;
  return n.Scalar();
}

std::optional<std::string> MapReader::one_of(const std::string& key,
                                             const std::vector<std::string>& valid,
                                             const std::string& what) {
  auto value = string(key);
  if (!value || std::find(valid.begin(), valid.end(), *value) != valid.end()) return value;
  error(key, "unknown " + what + " '" + *value + "' (valid: " + join(valid, ", ") + ")");
  return std::nullopt;
}

template <class T, class Parse>
std::optional<T> MapReader::ranged(const std::string& key, const char* kind, Parse parse, T min,
                                   T max, const std::string& unit) {
  if (!has(key)) return std::nullopt;
  bool good = false;
  const auto n = node(key);
  scalar(key, n, kind, good);
  if (!good) return std::nullopt;
  auto v = parse(n.Scalar());
  if (!v || *v < min || *v > max) {
    error(key, "'" + key + "' must be " + kind + " from " + std::to_string(min) + " to " +
                   std::to_string(max) + unit + ", not '" + n.Scalar() + "'");
    return std::nullopt;
  }
  return v;
}

std::optional<std::int64_t> MapReader::integer(const std::string& key, std::int64_t min,
                                               std::int64_t max) {
  return ranged(key, "an integer", parse_int, min, max, "");
}

std::optional<std::uint64_t> MapReader::size(const std::string& key, std::uint64_t min,
                                             std::uint64_t max) {
  return ranged(key, "a size", parse_size, min, max, " bytes (such as 8KB or 1MiB)");
}

std::optional<bool> MapReader::boolean(const std::string& key) {
  if (!has(key)) return std::nullopt;
  bool good = false;
  const auto n = node(key);
  scalar(key, n, "true or false", good);
  if (!good) return std::nullopt;
  auto v = parse_bool(n.Scalar());
  if (!v) error(key, "'" + key + "' must be true or false, not '" + n.Scalar() + "'");
  return v;
}

std::optional<std::chrono::milliseconds> MapReader::duration(const std::string& key) {
  if (!has(key)) return std::nullopt;
  bool good = false;
  const auto n = node(key);
  scalar(key, n, "a duration", good);
  if (!good) return std::nullopt;
  auto v = parse_duration(n.Scalar());
  if (!v) {
    error(key, "'" + key + "' must be a duration such as 500ms, 10s, 5m or 1h, not '" + n.Scalar() +
                   "'");
  }
  return v;
}

std::optional<std::vector<Ref>> MapReader::names(const std::string& key, const std::string& noun) {
  if (!has(key)) return std::vector<Ref>{};
  const auto n = node(key);
  std::vector<Ref> out;
  if (n.IsScalar()) {
    out.push_back({n.Scalar(), mark_of(file_, n)});
    return out;
  }
  if (!n.IsSequence()) {
    error(key, "'" + key + "' must be a list of " + noun);
    return std::nullopt;
  }
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      diags_.add(mark_of(file_, item), what_ + ": '" + key + "' must be a list of " + noun);
      return std::nullopt;
    }
    out.push_back({item.Scalar(), mark_of(file_, item)});
  }
  return out;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

}  // namespace iotgw::config
