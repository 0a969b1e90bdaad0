#include "bridge/link_pair.hpp"

#include <proton/delivery_mode.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender_options.hpp>
#include <proton/session.hpp>

#include "bridge/link_options.hpp"

namespace iotgw::bridge {

void LinkPair::attach(proton::connection c, const std::string& address,
                      const std::string& channel) {
  auto properties = iothub_link_properties();
  properties[proton::symbol("com.microsoft:channel-correlation-id")] = proton::value(channel);
  auto session = c.default_session();
  receiver = session.open_receiver(address, proton::receiver_options()
                                                .properties(properties)
                                                .delivery_mode(proton::delivery_mode::AT_MOST_ONCE)
                                                .credit_window(16));
  sender = session.open_sender(address, proton::sender_options()
                                            .properties(properties)
                                            .delivery_mode(proton::delivery_mode::AT_MOST_ONCE));
}

void LinkPair::close() {
  // Closing is idempotent in Proton: a link the hub already closed is left as it is.
  if (sender) sender.close();
  if (receiver) receiver.close();
  forget();
}

}  // namespace iotgw::bridge
