#include "bridge/link_options.hpp"

#include <string_view>

namespace iotgw::bridge {

std::map<proton::symbol, proton::value> iothub_link_properties() {
  return {{proton::symbol("com.microsoft:api-version"), proton::value(std::string("2020-09-30"))},
          {proton::symbol("com.microsoft:client-version"),
           proton::value(std::string("iotgw/" IOTGW_VERSION))}};
}

proton::session session_for(proton::connection& c, bool iothub) {
  return iothub ? c.default_session() : c.open_session();
}

void close_link(proton::link l, bool iothub) {
  if (iothub) {
    l.close();
  } else {
    l.session().close();
  }
}

std::string expand_address(const std::string& pattern, const std::string& device) {
  static constexpr std::string_view kVar = "{deviceId}";
  std::string out;
  std::size_t at = 0;
  for (auto hit = pattern.find(kVar); hit != std::string::npos; hit = pattern.find(kVar, at)) {
    out.append(pattern, at, hit - at).append(device);
    at = hit + kVar.size();
  }
  return out.append(pattern, at);
}

}  // namespace iotgw::bridge
