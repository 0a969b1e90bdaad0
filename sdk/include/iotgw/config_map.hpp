// iotgw plugin SDK: a config map (as Fluent Bit's): each declared key names the member of the
// plugin's options struct it fills and the range or choices its value must keep to, so a key is
// written once, and a refused value is reported at that key.
//
//   struct Options {
//     std::size_t max_inflight = 16;
//     bool map_other = false;
//   };
//   static inline const iotgw::ConfigMap<Options> config_map{
//       iotgw::integer("max_inflight", "16", "unacknowledged publishes", &Options::max_inflight)
//           .range(1, 65535),
//       iotgw::choice("other", "refuse", "topics outside the hub's", &Options::map_other,
//                     {{"refuse", false}, {"map", true}}),
//   };
//   ... in the constructor: options_ = config_map.read(config);
//
// A class with a `config_map` declares its keys from it (no `config_keys` array). --describe
// shows each key's range or choices after its doc. read() throws iotgw::Error("'KEY' must be
// ..."): the host reports a refusal that starts with a declared key's name at that key's
// position. Nothing here crosses the ABI: the host sees the same iotgw_config_key array as ever.
#ifndef IOTGW_CONFIG_MAP_HPP
#define IOTGW_CONFIG_MAP_HPP

#include <iotgw/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace iotgw {

namespace detail {

template <class T>
struct is_duration : std::false_type {};
template <class Rep, class Period>
struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};

// A bound as a person writes it: "64 bytes" for sizes, "1500ms" or "20m" for durations.
inline std::string with_unit(iotgw_config_type type, std::int64_t v) {
  switch (type) {
    case IOTGW_CFG_SIZE: return std::to_string(v) + " bytes";
    case IOTGW_CFG_DURATION: {
      const std::pair<std::int64_t, const char*> units[] = {
          {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
      for (const auto& [ms, unit] : units) {
        if (v != 0 && v % ms == 0) return std::to_string(v / ms) + unit;
      }
      return std::to_string(v) + "ms";
    }
    default: return std::to_string(v);
  }
}

inline std::string number_text(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// "from A to B", "at least A" or "at most B"; empty without bounds.
template <class T, class Show>
std::string bounds_text(const std::optional<T>& min, const std::optional<T>& max, Show show) {
  if (min && max) return "from " + show(*min) + " to " + show(*max);
  if (min) return "at least " + show(*min);
  if (max) return "at most " + show(*max);
  return {};
}

}  // namespace detail

// One declared key of a ConfigMap<Options>: made by integer(), size(), duration(), boolean(),
// number(), string(), list() or choice(), then narrowed with range(), at_least() or at_most().
template <class Options>
class Key {
 public:
  using Assign = std::function<void(Options&, const iotgw_config_value&)>;

  Key(iotgw_config_key decl, Assign assign) : decl_(decl), assign_(std::move(assign)) {}

  // Bounds in the value's unit: integers, bytes for sizes, milliseconds for durations.
  Key range(std::int64_t min, std::int64_t max) && {
    min_ = min;
    max_ = max;
    return std::move(*this);
  }
  Key at_least(std::int64_t min) && {
    min_ = min;
    return std::move(*this);
  }
  Key at_most(std::int64_t max) && {
    max_ = max;
    return std::move(*this);
  }
  Key range(std::chrono::milliseconds min, std::chrono::milliseconds max) && {
    return std::move(*this).range(min.count(), max.count());
  }
  Key at_least(std::chrono::milliseconds min) && { return std::move(*this).at_least(min.count()); }
  // Bounds of a number (double) key.
  Key between(double min, double max) && {
    number_min_ = min;
    number_max_ = max;
    return std::move(*this);
  }

  const iotgw_config_key& decl() const { return decl_; }

  // "from 1 to 65535", "one of refuse, map" or empty: the rule a value keeps to.
  std::string rule() const {
    if (!choices_.empty()) {
      std::string text = "one of ";
      for (std::size_t i = 0; i < choices_.size(); ++i) text += (i ? ", " : "") + choices_[i];
      return text;
    }
    if (decl_.type == IOTGW_CFG_DOUBLE) {
      return detail::bounds_text(number_min_, number_max_, detail::number_text);
    }
    // The member type's bounds are worth saying only where they bind: not int64's own, nor a
    // size's 0.
    const auto shown = [](std::optional<std::int64_t> b, std::int64_t unsaid) {
      return b == unsaid ? std::nullopt : b;
    };
    const std::int64_t least = decl_.type == IOTGW_CFG_SIZE ? 0 : kInt64Min;
    return detail::bounds_text(shown(low(), least), shown(high(), kInt64Max),
                               [&](std::int64_t v) { return detail::with_unit(decl_.type, v); });
  }

  // Checks v against the rule, then fills the member; throws Error naming the key.
  void apply(Options& options, const iotgw_config_value& v) const {
    const std::string given = v.text != nullptr ? v.text : "";
    bool fits = true;
    if (!choices_.empty()) {
      fits = std::find(choices_.begin(), choices_.end(), given) != choices_.end();
    } else if (decl_.type == IOTGW_CFG_DOUBLE) {
      fits = !(number_min_ && v.number < *number_min_) && !(number_max_ && v.number > *number_max_);
    } else {
      fits = !(low() && v.integer < *low()) && !(high() && v.integer > *high());
    }
    if (!fits) {
      throw Error("'" + std::string(decl_.name) + "' must be " + rule() + ", not '" + given + "'");
    }
    assign_(options, v);
  }

  // Set by the factories: the bounds a member's own type sets, and a choice's names.
  void fit(std::int64_t min, std::int64_t max) {
    type_min_ = min;
    type_max_ = max;
  }
  void set_choices(std::vector<std::string> names) { choices_ = std::move(names); }

 private:
  static constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
  static constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

  // The declared bounds within the member type's.
  std::optional<std::int64_t> low() const {
    if (min_ && type_min_) return std::max(*min_, *type_min_);
    return min_ ? min_ : type_min_;
  }
  std::optional<std::int64_t> high() const {
    if (max_ && type_max_) return std::min(*max_, *type_max_);
    return max_ ? max_ : type_max_;
  }

  iotgw_config_key decl_;
  Assign assign_;
  std::optional<std::int64_t> min_, max_, type_min_, type_max_;
  std::optional<double> number_min_, number_max_;
  std::vector<std::string> choices_;
};

namespace detail {

template <class Options, class Member, class Convert>
Key<Options> bind(const char* name, iotgw_config_type type, const char* default_value,
                  const char* doc, Member Options::*member, Convert convert) {
  return Key<Options>(
      iotgw_config_key{name, type, default_value, doc},
      [member, convert](Options& o, const iotgw_config_value& v) { o.*member = convert(v); });
}

// An integer-like key whose member is narrower than 64 bits: the member's range bounds it, so
// nothing is cut silently.
template <class Options, class Member>
Key<Options> integral(const char* name, iotgw_config_type type, const char* default_value,
                      const char* doc, Member Options::*member) {
  static_assert(std::is_integral_v<Member>, "the member must be an integer type");
  auto key = bind(name, type, default_value, doc, member,
                  [](const iotgw_config_value& v) { return static_cast<Member>(v.integer); });
  using Limits = std::numeric_limits<Member>;
  const auto top = std::numeric_limits<std::int64_t>::max();
  key.fit(Limits::is_signed ? static_cast<std::int64_t>(Limits::min()) : 0,
          Limits::digits >= 63 ? top : static_cast<std::int64_t>(Limits::max()));
  return key;
}

}  // namespace detail

template <class Options, class Member>
Key<Options> integer(const char* name, const char* default_value, const char* doc,
                     Member Options::*member) {
  return detail::integral(name, IOTGW_CFG_INT, default_value, doc, member);
}

template <class Options, class Member>
Key<Options> size(const char* name, const char* default_value, const char* doc,
                  Member Options::*member) {
  return detail::integral(name, IOTGW_CFG_SIZE, default_value, doc, member);
}

// A duration into any std::chrono::duration member (a coarser one truncates: 1500ms -> 1s).
template <class Options, class Member>
Key<Options> duration(const char* name, const char* default_value, const char* doc,
                      Member Options::*member) {
  static_assert(detail::is_duration<Member>::value, "the member must be a std::chrono::duration");
  return detail::bind(
      name, IOTGW_CFG_DURATION, default_value, doc, member, [](const iotgw_config_value& v) {
        return std::chrono::duration_cast<Member>(std::chrono::milliseconds(v.integer));
      });
}

template <class Options>
Key<Options> boolean(const char* name, const char* default_value, const char* doc,
                     bool Options::*member) {
  return detail::bind(name, IOTGW_CFG_BOOL, default_value, doc, member,
                      [](const iotgw_config_value& v) { return v.integer != 0; });
}

template <class Options>
Key<Options> number(const char* name, const char* default_value, const char* doc,
                    double Options::*member) {
  return detail::bind(name, IOTGW_CFG_DOUBLE, default_value, doc, member,
                      [](const iotgw_config_value& v) { return v.number; });
}

template <class Options>
Key<Options> string(const char* name, const char* default_value, const char* doc,
                    std::string Options::*member) {
  return detail::bind(name, IOTGW_CFG_STRING, default_value, doc, member,
                      [](const iotgw_config_value& v) { return std::string(v.text); });
}

template <class Options>
Key<Options> list(const char* name, const char* default_value, const char* doc,
                  std::vector<std::string> Options::*member) {
  return detail::bind(name, IOTGW_CFG_STRING_LIST, default_value, doc, member,
                      [](const iotgw_config_value& v) {
                        return std::vector<std::string>(v.items, v.items + v.item_count);
                      });
}

// A string key that must be one of `choices`, each of which fills the member with its value.
template <class Options, class Member>
Key<Options> choice(const char* name, const char* default_value, const char* doc,
                    Member Options::*member,
                    std::initializer_list<std::pair<const char*, Member>> choices) {
  std::vector<std::pair<std::string, Member>> table(choices.begin(), choices.end());
  std::vector<std::string> names;
  names.reserve(table.size());
  for (const auto& c : table) names.push_back(c.first);
  auto key = detail::bind(name, IOTGW_CFG_STRING, default_value, doc, member,
                          [table](const iotgw_config_value& v) {
                            for (const auto& [text, value] : table) {
                              if (text == v.text) return value;
                            }
                            return table.front().second;  // apply() checked it is listed
                          });
  key.set_choices(std::move(names));
  return key;
}

// Every key of a plugin, bound to the members of Options they fill.
template <class Options>
class ConfigMap {
 public:
  ConfigMap(std::initializer_list<Key<Options>> keys) : keys_(keys) {
    decls_.reserve(keys_.size());
    for (const auto& k : keys_) {
      auto decl = k.decl();
      if (const auto rule = k.rule(); !rule.empty()) {
        decl.doc = docs_.emplace_back(std::string(decl.doc) + " (" + rule + ")").c_str();
      }
      decls_.push_back(decl);
    }
  }
  ConfigMap(const ConfigMap&) = delete;
  ConfigMap& operator=(const ConfigMap&) = delete;

  // The declaration the descriptor carries: docs with their range or choices.
  std::span<const iotgw_config_key> keys() const { return decls_; }

  // Options filled from the host's values, each checked first; throws Error at the first refusal.
  Options read(const Config& config, Options options = {}) const {
    for (const auto& k : keys_) k.apply(options, config.value(k.decl().name));
    return options;
  }

 private:
  std::vector<Key<Options>> keys_;
  std::deque<std::string> docs_;  // deque: stable c_str() as it grows
  std::vector<iotgw_config_key> decls_;
};

}  // namespace iotgw

#endif  // IOTGW_CONFIG_MAP_HPP
