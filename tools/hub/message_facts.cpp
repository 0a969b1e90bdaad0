#include "message_facts.hpp"

#include <map>
#include <vector>

#include <proton/codec/map.hpp>
#include <proton/scalar.hpp>
#include <proton/symbol.hpp>

#include "iotgw/common/amqp_text.hpp"

namespace iotgw::hub {

std::string property(const proton::message& m, const std::string& key) {
  const auto& props = m.properties();
  if (!props.exists(key)) return {};
  const proton::scalar v = props.get(key);
  if (v.type() == proton::STRING) return proton::get<std::string>(v);
  if (v.type() == proton::SYMBOL) return proton::get<proton::symbol>(v);
  return {};
}

std::size_t counted_size(const proton::message& m) {
  std::size_t n = amqp_text(m.body()).size();
  if (n == 0 && !m.body().empty()) {
    std::vector<char> encoded;
    proton::message body_only;
    body_only.body(m.body());
    body_only.encode(encoded);
    n = encoded.size();
  }
  n += m.content_type().size() + m.content_encoding().size() + m.to().size() + m.user().size();
  if (!m.properties().empty()) {
    std::map<std::string, proton::scalar> props;
    proton::get(m.properties().value(), props);
    for (const auto& [k, v] : props) {
      n += k.size() + (v.type() == proton::STRING ? proton::get<std::string>(v).size()
                                                  : proton::to_string(v).size());
    }
  }
  return n;
}

}  // namespace iotgw::hub
