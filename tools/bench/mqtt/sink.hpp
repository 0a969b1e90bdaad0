// iotgw-bench sink: the least an MQTT server can do. CONNACK to CONNECT, PUBACK to QoS 1
// PUBLISH, a refusing SUBACK, PINGRESP; nothing is routed or stored. Its rate is the ceiling
// for any MQTT server on this machine with this client.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>

namespace iotgw::bench {

// Serves until the io_context stops; prints "listening on HOST:PORT" once bound.
void run_sink(boost::asio::io_context& io, const std::string& host, const std::string& port);

}  // namespace iotgw::bench
