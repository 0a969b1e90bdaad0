// The topology's keys, declared once: the parser takes its valid keys and choices from here, and
// `iotgw --describe-topology` (and so docs/configuration.md) prints them.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace iotgw::config::schema {

struct Key {
  std::string_view name;
  std::string_view type;                // as --describe-topology shows it: string, int, ...
  std::string_view default_value = {};  // as written in YAML; empty: none, see doc
  std::string_view doc;                 // one line
  bool required = false;
  std::string_view choices = {};  // "a, b, c": the only values the key takes
};

struct Section {
  std::string_view name;  // "gateway", "listeners[].tls": where the map is in the topology
  std::string_view doc;   // one line
  std::span<const Key> keys;
};

// Every section, in the order a topology file is read.
std::span<const Section> sections();

// The section's key names, in declared order (the order error messages list them in).
// Throws std::logic_error for a section that is not declared: a mistake in the code.
std::vector<std::string> key_names(std::string_view section);

// The values a one-of key takes, in declared order. Throws std::logic_error for an undeclared
// key or one without choices.
std::vector<std::string> choices(std::string_view section, std::string_view key);

}  // namespace iotgw::config::schema
