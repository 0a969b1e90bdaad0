// The operators' HTTP endpoint (gateway.admin), after Envoy's admin interface: Prometheus
// metrics, liveness and readiness probes, reload, drain and a status document. Anything that
// changes state asks for the bearer token when gateway.admin.token_file is set; reading does not,
// since the endpoint binds where the operator chose (127.0.0.1 by default).
#pragma once

#include <memory>
#include <string>

#include "admin/controls.hpp"
#include "config/model.hpp"
#include "iotgw/common/http_server.hpp"
#include "iotgw/common/log.hpp"
#include "iotgw/common/metrics.hpp"

namespace iotgw::admin {

class AdminEndpoint {
 public:
  // Binds and serves on a thread of its own; throws std::runtime_error naming the address or the
  // token file when it cannot.
  AdminEndpoint(const config::AdminSpec& spec, Controls& controls,
                const metrics::Registry& registry, Logger& log);
  unsigned short port() const { return server_->port(); }
  void stop() { server_->stop(); }

 private:
  void handle(const http::Request& request, const http::Server::Respond& respond);
  bool authorized(const http::Request& request) const;

  Controls& controls_;
  const metrics::Registry& registry_;
  Logger& log_;
  std::string token_;  // empty: none asked
  std::unique_ptr<http::Server> server_;
};

}  // namespace iotgw::admin
