#include "admin/admin_endpoint.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <openssl/crypto.h>
#include <nlohmann/json.hpp>
#include "iotgw/common/secret_file.hpp"

namespace iotgw::admin {

namespace {

constexpr const char* kJson = "application/json";

http::Response text(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body) + "\n"};
}

http::Response json(int status, const nlohmann::json& doc) {
  return {status, kJson, doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
}

std::string read_token(const std::filesystem::path& file) {
  auto read = read_secret_file(file);
  if (auto* refused = std::get_if<SecretFileError>(&read)) {
    throw std::runtime_error("gateway.admin.token_file " + refused->why);
  }
  return std::get<std::string>(std::move(read));
}

const char* kRoutes =
    "GET /metrics, GET /healthz, GET /readyz, GET /status, POST /reload, POST /drain";

}  // namespace

AdminEndpoint::AdminEndpoint(const config::AdminSpec& spec, Controls& controls,
                             const metrics::Registry& registry, Logger& log)
    : controls_(controls), registry_(registry), log_(log) {
  if (!spec.token_file.empty()) token_ = read_token(spec.token_file);
  server_ = std::make_unique<http::Server>(
      "admin", spec.bind,
      [this](const http::Request& r, const http::Server::Respond& respond) { handle(r, respond); },
      log);
  server_->start();
  log_.info("admin", "serving " + std::string(kRoutes) + " on " +
                         spec.bind.substr(0, spec.bind.rfind(':')) + ":" +
                         std::to_string(server_->port()) +
                         (token_.empty() ? "" : " (POST needs the bearer token)"));
}

bool AdminEndpoint::authorized(const http::Request& request) const {
  if (token_.empty()) return true;
  const std::string expected = "Bearer " + token_;
  // Constant time: the token is a secret and the endpoint may be reachable from a network.
  return request.authorization.size() == expected.size() &&
         CRYPTO_memcmp(request.authorization.data(), expected.data(), expected.size()) == 0;
}

void AdminEndpoint::handle(const http::Request& request, const http::Server::Respond& respond) {
  const auto path = request.path();
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  if (get && path == "/metrics") {
    respond({200, metrics::kTextFormat, registry_.render()});
  } else if (get && path == "/healthz") {
    const auto why = controls_.unhealthy();
    respond(why.empty() ? text(200, "ok") : text(503, why));
  } else if (get && path == "/readyz") {
    const auto why = controls_.not_ready();
    respond(why.empty() ? text(200, "ready") : text(503, why));
  } else if (get && path == "/status") {
    controls_.status([respond](std::string doc) { respond({200, kJson, std::move(doc)}); });
  } else if (post && (path == "/reload" || path == "/drain") && !authorized(request)) {
    log_.warn("admin", "POST " + path + " refused: no valid bearer token");
    respond(text(401, "POST " + path + " needs 'Authorization: Bearer <token>'"));
  } else if (post && path == "/reload") {
    controls_.reload([respond](const ReloadResult& r) {
      respond(
          json(r.ok ? 200 : 422,
               {{"result", r.ok ? "ok" : "failed"}, {"summary", r.summary}, {"errors", r.errors}}));
    });
  } else if (post && path == "/drain") {
    controls_.drain([respond](std::size_t connections) {
      respond(json(202, {{"draining", true}, {"connections", connections}}));
    });
  } else if (path == "/metrics" || path == "/healthz" || path == "/readyz" || path == "/status" ||
             path == "/reload" || path == "/drain") {
    respond(text(405, request.method + " " + path + " is not served: " + kRoutes));
  } else {
    respond(text(404, path + " is not served: " + kRoutes));
  }
}

}  // namespace iotgw::admin
