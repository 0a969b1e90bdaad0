// What a link address means on an IoT Hub: the node a client attaches to.
#pragma once

#include <string>

namespace iotgw::hub {

struct Node {
  enum Kind {
    unknown,
    cbs,               // $cbs
    device_telemetry,  // /devices/{id}/messages/events
    device_c2d,        // /devices/{id}/messages/devicebound (C# spells it deviceBound)
    device_twin,       // /devices/{id}/twin
    device_methods,    // /devices/{id}/methods/devicebound
    service_events,    // /messages/events[/ConsumerGroups/{group}/Partitions/{n}]
    service_c2d,       // /messages/devicebound
    service_feedback,  // /messages/serviceBound/feedback
  } kind = unknown;
  std::string device_id;  // device nodes
  bool device_node() const {
    return kind == device_telemetry || kind == device_c2d || kind == device_twin ||
           kind == device_methods;
  }
  std::string group = "$Default";  // service_events
  std::string partition = "0";
};

// Accepts "amqps://{host}/path", "/path" and "path"; ids are URL-decoded.
Node parse_node(const std::string& address);

}  // namespace iotgw::hub
