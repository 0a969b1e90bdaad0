// Errors a person can act on: every one carries file:line:col of the YAML node it is about.
#pragma once

#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace iotgw::config {

struct Mark {
  std::string file;
  int line = 0;  // 1-based; 0 when the position is unknown
  int column = 0;
};

Mark mark_of(const std::string& file, const YAML::Node& node);

struct Diagnostic {
  Mark mark;
  std::string message;
  // "file:line:col: message", or "file: message" when the position is unknown.
  std::string str() const;
};

class Diagnostics {
 public:
  void add(Mark mark, std::string message) {
    items_.push_back({std::move(mark), std::move(message)});
  }
  bool empty() const { return items_.empty(); }
  std::size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& all() const { return items_; }
  // All of them, one a line.
  std::string str() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace iotgw::config
