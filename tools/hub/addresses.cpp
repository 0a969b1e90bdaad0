#include "addresses.hpp"

#include <vector>

#include "iotgw/common/sas_token.hpp"

namespace iotgw::hub {

namespace {

std::vector<std::string> segments(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : path) {
    if (c == '/') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

Node parse_node(const std::string& address) {
  Node n;
  if (address == "$cbs") {
    n.kind = Node::cbs;
    return n;
  }
  std::string path = address;
  if (auto at = path.find("://"); at != std::string::npos) {
    const auto slash = path.find('/', at + 3);
    path = slash == std::string::npos ? "" : path.substr(slash);
  }
  if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
  const auto s = segments(path);
  if (s.size() == 4 && s[0] == "devices" && s[2] == "messages") {
    n.device_id = sas::url_decode(s[1]).value_or("");
    if (s[3] == "events") n.kind = Node::device_telemetry;
    if (s[3] == "devicebound" || s[3] == "deviceBound") n.kind = Node::device_c2d;
    if (n.device_id.empty()) n.kind = Node::unknown;
    return n;
  }
  if ((s.size() == 3 && s[0] == "devices" && s[2] == "twin") ||
      (s.size() == 4 && s[0] == "devices" && s[2] == "methods" && s[3] == "devicebound")) {
    n.device_id = sas::url_decode(s[1]).value_or("");
    n.kind = n.device_id.empty() ? Node::unknown
             : s[2] == "twin"    ? Node::device_twin
                                 : Node::device_methods;
    return n;
  }
  if (s.size() >= 2 && s[0] == "messages") {
    if (s[1] == "events" && s.size() == 2) {
      n.kind = Node::service_events;
    } else if (s[1] == "events" && s.size() == 6 && s[2] == "ConsumerGroups" &&
               s[4] == "Partitions") {
      n.kind = Node::service_events;
      n.group = s[3];
      n.partition = s[5];
    } else if (s[1] == "devicebound" && s.size() == 2) {
      n.kind = Node::service_c2d;
    } else if (s[1] == "serviceBound" && s.size() == 3 && s[2] == "feedback") {
      n.kind = Node::service_feedback;
    }
  }
  return n;
}

}  // namespace iotgw::hub
