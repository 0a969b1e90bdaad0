#include "metrics_endpoint.hpp"

namespace iotgw::hub {

std::unique_ptr<http::Server> serve_metrics(const std::string& listen,
                                            const metrics::Registry& registry, Logger& log) {
  auto handle = [&registry](const http::Request& request, const http::Server::Respond& respond) {
    const bool get = request.method == "GET" || request.method == "HEAD";
    if (request.path() != "/metrics") {
      respond(
          {404, "text/plain; charset=utf-8", request.path() + " is not served: GET /metrics\n"});
    } else if (!get) {
      respond(
          {405, "text/plain; charset=utf-8", request.method + " /metrics: only GET is served\n"});
    } else {
      respond({200, metrics::kTextFormat, registry.render()});
    }
  };
  auto server = std::make_unique<http::Server>("metrics", listen, handle, log);
  server->start();
  log.info("hub", "serving /metrics on " + listen.substr(0, listen.rfind(':')) + ":" +
                      std::to_string(server->port()));
  return server;
}

}  // namespace iotgw::hub
