// --metrics-listen: GET /metrics serves the hub's Registry in Prometheus's text format, on the
// same plain-HTTP server the gateway's admin endpoint uses, so a benchmark or a dashboard reads
// the gateway and the hub the same way.
#pragma once

#include <memory>
#include <string>

#include "iotgw/common/http_server.hpp"
#include "iotgw/common/log.hpp"
#include "iotgw/common/metrics.hpp"

namespace iotgw::hub {

// Binds `listen` ("host:port"; port 0 picks one, logged as "serving /metrics on HOST:PORT") and
// serves on a thread of its own until the server goes; throws std::runtime_error naming the
// address when it cannot bind.
std::unique_ptr<http::Server> serve_metrics(const std::string& listen,
                                            const metrics::Registry& registry, Logger& log);

}  // namespace iotgw::hub
