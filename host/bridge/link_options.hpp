// How the bridge's links attach, whichever family they belong to: the link properties Azure's
// device SDKs send to IoT Hub, and durable termini for brokers.
#pragma once

#include <map>
#include <string>

#include <proton/connection.hpp>
#include <proton/link.hpp>
#include <proton/session.hpp>
#include <proton/symbol.hpp>
#include <proton/terminus.hpp>
#include <proton/value.hpp>

namespace iotgw::bridge {

// What the Azure device SDKs put on their links' attach.
std::map<proton::symbol, proton::value> iothub_link_properties();

// A terminus whose configuration outlives the link. RabbitMQ declares the queue behind a
// /queue/ address durable only for such a terminus (a queue that is not durable is gone after
// a broker restart, durable messages and all), and refuses the attach if the queue exists with
// the other durability. The link's unsettled state is ours to keep (we resend), not the broker's.
template <class Options>
Options durable_terminus(bool durable) {
  Options o;
  o.durability_mode(durable ? proton::terminus::CONFIGURATION : proton::terminus::NONDURABLE);
  return o;
}

// The session a new link goes on. IoT Hub: the connection's own, shared by every link. A
// broker: one of the link's own, since a broker that refuses an address may end the whole
// session (RabbitMQ does), which must not take other links with it.
proton::session session_for(proton::connection& c, bool iothub);
// Closes a link made on session_for(c, iothub): on IoT Hub the link alone; on a broker its
// session, which ends the link with it.
void close_link(proton::link l, bool iothub);

// {deviceId} in an address template, replaced.
std::string expand_address(const std::string& pattern, const std::string& device);

}  // namespace iotgw::bridge
