#include "topic_filter.hpp"

namespace iotgw::mqtt {
namespace {

// Splits off the first level of `rest`; `rest` keeps what follows the '/', `more` whether there
// was one.
std::string_view next_level(std::string_view& rest, bool& more) {
  const auto slash = rest.find('/');
  more = slash != std::string_view::npos;
  const auto level = rest.substr(0, slash);
  rest = more ? rest.substr(slash + 1) : std::string_view{};
  return level;
}

}  // namespace

bool valid_filter(std::string_view filter) {
  if (filter.empty()) return false;
  bool more = true;
  while (more) {
    const auto level = next_level(filter, more);
    if (level.find_first_of("+#") == std::string_view::npos) continue;
    if (level.size() != 1) return false;  // "a+" or "#b": wildcards take the whole level
    if (level == "#" && more) return false;
  }
  return true;
}

bool filter_matches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  bool filter_more = true;
  bool topic_more = true;
  while (filter_more) {
    const auto f = next_level(filter, filter_more);
    if (f == "#") return true;  // the parent level too: "a/#" matches "a"
    if (!topic_more) return false;
    const auto t = next_level(topic, topic_more);
    if (f != "+" && f != t) return false;
  }
  return !topic_more;
}

}  // namespace iotgw::mqtt
