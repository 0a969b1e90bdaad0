// libFuzzer target: an AMQP message from the hub (cloud-to-device, twin and method traffic) as
// the bridge maps it to a device's message. Any bytes Proton decodes as a message, with
// properties of any AMQP type (described types, lists, maps, symbols where strings belong), map
// to an iotgw message without throwing, and that message maps back to AMQP.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include <proton/error.hpp>
#include <proton/message.hpp>

#include "bridge/message_codec.hpp"
#include "runtime/message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  proton::message m;
  try {
    m.decode(std::vector<char>(data, data + size));
  } catch (const proton::error&) {
    return 0;  // not an AMQP message: Proton's refusal, before the bridge sees anything
  }
  // No catch here: the bridge calls this inside Proton's dispatch, where an exception would end
  // the bridge's connection thread. Whatever the hub sends must map.
  const iotgw_msg msg = iotgw::bridge::from_amqp(m, "d1");
  (void)iotgw::bridge::earlier_deliveries(m, true);
  proton::message back;
  iotgw::bridge::to_amqp(msg, back);
  return 0;
}
