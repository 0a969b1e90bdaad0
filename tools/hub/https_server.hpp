// The hub's HTTPS listener (IoT Hub serves its service API on 443): the common HTTP server over
// TLS with the hub's certificate, turning HTTP requests into ServiceApi's and its answers back.
// What a request means is ServiceApi's business; this only speaks HTTP.
#pragma once

#include <memory>
#include <string>

#include "iotgw/common/http_server.hpp"
#include "iotgw/common/log.hpp"
#include "service_api.hpp"

namespace iotgw::hub {

// Binds `listen` ("host:port"; port 0 picks one, logged as "https listening on HOST:PORT") with
// the certificate and key, and serves on a thread of its own until the server goes; throws
// std::runtime_error saying what failed.
std::unique_ptr<http::Server> serve_https(const std::string& listen, const std::string& cert_file,
                                          const std::string& key_file, ServiceApi& api,
                                          Logger& log);

}  // namespace iotgw::hub
