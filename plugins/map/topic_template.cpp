#include "topic_template.hpp"

#include <stdexcept>

namespace iotgw::map {

TopicTemplate::TopicTemplate(const std::string& text) : text_(text) {
  if (text.empty()) throw std::invalid_argument("an empty topic template");
  std::size_t at = 0;
  while (at <= text.size()) {
    const auto slash = text.find('/', at);
    const std::string seg =
        text.substr(at, slash == std::string::npos ? std::string::npos : slash - at);
    if (!seg.empty() && seg.front() == '{') {
      if (seg.back() != '}' || seg.size() < 3) {
        throw std::invalid_argument("template '" + text + "': segment '" + seg + "' is not {name}");
      }
      const auto name = seg.substr(1, seg.size() - 2);
      if (name.find_first_of("{}") != std::string::npos) {
        throw std::invalid_argument("template '" + text + "': segment '" + seg + "' is not {name}");
      }
      if (name == "*" && slash != std::string::npos) {
        throw std::invalid_argument("template '" + text + "': {*} must be the last segment");
      }
      segments_.push_back({{}, name});
    } else {
      if (seg.find_first_of("{}+#") != std::string::npos) {
        throw std::invalid_argument("template '" + text + "': segment '" + seg +
                                    "' mixes text and braces or wildcards");
      }
      segments_.push_back({seg, {}});
    }
    if (slash == std::string::npos) break;
    at = slash + 1;
  }
}

std::optional<Vars> TopicTemplate::match(const std::string& topic) const {
  Vars vars;
  std::size_t at = 0;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const auto& s = segments_[i];
    if (s.var == "*") {
      vars["*"] = at <= topic.size() ? topic.substr(at) : std::string();
      return vars;
    }
    if (at > topic.size()) return std::nullopt;
    const auto slash = topic.find('/', at);
    const std::string seg =
        topic.substr(at, slash == std::string::npos ? std::string::npos : slash - at);
    if (s.var.empty()) {
      if (seg != s.literal) return std::nullopt;
    } else {
      if (seg.empty()) return std::nullopt;
      vars[s.var] = seg;
    }
    at = slash == std::string::npos ? topic.size() + 1 : slash + 1;
  }
  if (at <= topic.size()) return std::nullopt;  // topic has more segments
  return vars;
}

namespace {

// Hands on_text each run of plain text and on_var each {name}, in order; throws for a '{' that
// does not close. fill and variables read patterns the same way through it.
template <typename OnText, typename OnVar>
void scan(const std::string& pattern, OnText&& on_text, OnVar&& on_var) {
  for (std::size_t at = 0; at < pattern.size();) {
    const auto open = pattern.find('{', at);
    if (open == std::string::npos) {
      on_text(pattern.substr(at));
      return;
    }
    on_text(pattern.substr(at, open - at));
    const auto close = pattern.find('}', open);
    if (close == std::string::npos) {
      throw std::invalid_argument("'" + pattern + "': a '{' that does not close");
    }
    on_var(pattern.substr(open + 1, close - open - 1));
    at = close + 1;
  }
}

}  // namespace

std::vector<std::string> TopicTemplate::variables() const {
  std::vector<std::string> names;
  for (const auto& s : segments_) {
    if (!s.var.empty()) names.push_back(s.var);
  }
  return names;
}

std::string fill(const std::string& pattern, const Vars& vars) {
  std::string out;
  scan(
      pattern, [&](const std::string& text) { out += text; },
      [&](const std::string& name) {
        const auto v = vars.find(name);
        if (v == vars.end())
          throw std::invalid_argument("'" + pattern + "': no variable {" + name + "}");
        out += v->second;
      });
  return out;
}

std::vector<std::string> variables(const std::string& pattern) {
  std::vector<std::string> names;
  scan(
      pattern, [](const std::string&) {}, [&](const std::string& name) { names.push_back(name); });
  return names;
}

}  // namespace iotgw::map
