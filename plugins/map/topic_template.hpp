// Topic templates as the Azure protocol gateway wrote them: segments split by '/', `{name}`
// matches one segment, `{*}` (last only) matches the rest, possibly nothing. The same syntax
// fills strings from variables: `/exchange/amq.topic/{building}.{room}`.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace iotgw::map {

using Vars = std::map<std::string, std::string>;

class TopicTemplate {
 public:
  // Throws std::invalid_argument saying what is wrong with the template.
  explicit TopicTemplate(const std::string& text);
  std::optional<Vars> match(const std::string& topic) const;
  const std::string& text() const { return text_; }
  // The names its {variables} capture, {*} included.
  std::vector<std::string> variables() const;

 private:
  struct Segment {
    std::string literal;  // when not a variable
    std::string var;      // a name, or "*" for the rest
  };
  std::string text_;
  std::vector<Segment> segments_;
};

// Replaces each {name} in `pattern` by its variable; throws std::invalid_argument for a brace
// that does not close or a name no variable has.
std::string fill(const std::string& pattern, const Vars& vars);
// The {names} in `pattern`, in order; throws std::invalid_argument for a brace that does not close.
std::vector<std::string> variables(const std::string& pattern);

}  // namespace iotgw::map
