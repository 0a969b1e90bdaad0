// A sender and a receiver on one device address, attached together under one channel correlation
// id: IoT Hub's request/response link families (twin, methods) are such pairs. Both are
// pre-settled, as Azure's device SDKs attach them; the answer to a request is a message, not a
// disposition.
#pragma once

#include <string>

#include <proton/connection.hpp>
#include <proton/link.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>

namespace iotgw::bridge {

struct LinkPair {
  proton::sender sender;
  proton::receiver receiver;

  bool attached() const { return static_cast<bool>(sender) && static_cast<bool>(receiver); }
  bool holds(const proton::link& l) const { return l == sender || l == receiver; }
  // `channel` is the family and a unique suffix ("twin:7"), as the SDKs' channel-correlation-id.
  void attach(proton::connection c, const std::string& address, const std::string& channel);
  // Closes both links (if the hub has not) and forgets them.
  void close();
  // Forgets both links without a word to the hub (the connection is gone).
  void forget() { *this = LinkPair(); }
};

}  // namespace iotgw::bridge
