// Reads one YAML mapping of the topology: checks it is a map, reports every unknown key with the
// valid ones, and reads typed values, each failure reported at the value's own position.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/diagnostics.hpp"

namespace iotgw::config {

// A name that refers to something else in the topology, with where it was written.
struct Ref {
  std::string name;
  Mark mark;
};

class MapReader {
 public:
  // `what` names the map in messages ("gateway", "listener 'mqtt'"). An absent node, or (when
  // allow_null) an empty one, is no error: the section takes its defaults.
  MapReader(const YAML::Node& node, std::string file, std::string what,
            std::vector<std::string> valid_keys, Diagnostics& diags, bool allow_null = true);

  bool ok() const { return is_map_; }
  bool has(const std::string& key) const;
  YAML::Node node(const std::string& key) const;
  Mark mark() const { return mark_of(file_, node_); }
  Mark mark(const std::string& key) const;

  std::optional<std::string> string(const std::string& key, bool required = false);
  // A string that must be one of `valid`; otherwise an error naming `what` and the valid ones.
  std::optional<std::string> one_of(const std::string& key, const std::vector<std::string>& valid,
                                    const std::string& what);
  std::optional<std::int64_t> integer(const std::string& key, std::int64_t min, std::int64_t max);
  std::optional<bool> boolean(const std::string& key);
  std::optional<std::chrono::milliseconds> duration(const std::string& key);
  // A size such as 512, 8KB or 1MiB, in bytes, from min to max.
  std::optional<std::uint64_t> size(const std::string& key, std::uint64_t min, std::uint64_t max);
  // A sequence of names (or a single name); `noun` says what they are in the error.
  std::optional<std::vector<Ref>> names(const std::string& key, const std::string& noun = "names");

  void error(const std::string& key, const std::string& message);
  const std::string& what() const { return what_; }
  const std::string& file() const { return file_; }

 private:
  const YAML::Node& scalar(const std::string& key, const YAML::Node& n, const char* expected,
                           bool& good);
  // A scalar `parse` reads, within [min, max]; the error names `kind`, the range and its unit.
  template <class T, class Parse>
  std::optional<T> ranged(const std::string& key, const char* kind, Parse parse, T min, T max,
                          const std::string& unit);

  YAML::Node node_;
  std::string file_;
  std::string what_;
  Diagnostics& diags_;
  bool is_map_ = false;
};

// A name of a stage, listener or plugin: letters, digits, '_', '-' and '.'.
bool valid_name(const std::string& name);

}  // namespace iotgw::config
