#include "config/diagnostics.hpp"

#include <yaml-cpp/yaml.h>

namespace iotgw::config {

Mark mark_of(const std::string& file, const YAML::Node& node) {
  if (!node.IsDefined()) return {file, 0, 0};  // Mark() throws on a node that is not there
  const auto m = node.Mark();
  if (m.is_null()) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

std::string Diagnostic::str() const {
  if (mark.line == 0) return mark.file + ": " + message;
  return mark.file + ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column) + ": " +
         message;
}

std::string Diagnostics::str() const {
  std::string out;
  for (const auto& d : items_) {
    out += d.str();
    out += '\n';
  }
  return out;
}

}  // namespace iotgw::config
