// `iotgw-hub twin get|update` and `iotgw-hub invoke`: a back end calling a running hub's service
// API over HTTPS, as `az iot hub device-twin show|update` and `az iot hub invoke-device-method` do.
#pragma once

#include <string>

namespace iotgw::hub {

struct RestTarget {
  std::string url = "https://127.0.0.1:443";
  std::string ca_file;   // trusted CAs; empty: the system's
  std::string hostname;  // the hub's name: the certificate must carry it (as IoT Hub's does)
  std::string token;     // a service SAS token
};

struct RestAnswer {
  int status = 0;
  std::string body;
  std::string error;  // set when there was no answer at all (connect, TLS)
};

// One request; throws nothing.
RestAnswer rest_call(const RestTarget& target, const std::string& method, const std::string& path,
                     const std::string& body, const std::string& if_match = {});

}  // namespace iotgw::hub
