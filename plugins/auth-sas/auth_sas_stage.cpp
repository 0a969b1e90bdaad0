// `auth-sas`: devices log in with IoT Hub SAS tokens (the MQTT password, as the device SDKs send
// it). Three modes:
//   passthrough  the token's form, expiry and audience (this device, on this hub) are checked
//                here; the hub checks the signature when the bridge puts the token on CBS.
//   local        the signature is checked here too, against a registry file of device keys (the
//                format iotgw-hub reads); the token then goes to the hub as it is.
//   translate    checked here as in `local`, then dropped: the bridge mints the device's hub
//                token from the gateway's policy key (identity translation).
// The registry is read when the stage is built, so SIGHUP picks up a changed file.
#include <optional>
#include <string>

#include <iotgw/plugin.hpp>

#include "iotgw/common/clock.hpp"
#include "iotgw/common/registry.hpp"
#include "iotgw/common/sas_token.hpp"
#include "iotgw/common/secret_file.hpp"

namespace {

class AuthSas final : public iotgw::StageBase {
 public:
  static constexpr const char* name = "auth-sas";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "authenticator: IoT Hub SAS tokens, passed through, checked locally, or translated";
  static constexpr iotgw_config_key config_keys[] = {
      {"mode", IOTGW_CFG_STRING, "passthrough", "passthrough, local or translate"},
      {"hostname", IOTGW_CFG_STRING, "",
       "the hub name tokens must be for; empty: the registry's (local, translate) or any"},
      {"registry", IOTGW_CFG_STRING, "",
       "device keys (iotgw-hub's registry format); required by local and translate"},
  };

  AuthSas(const iotgw::Context& ctx, const iotgw::Config& config) : StageBase(ctx) {
    mode_ = config.string("mode");
    if (mode_ != "passthrough" && mode_ != "local" && mode_ != "translate") {
      throw iotgw::Error("mode '" + mode_ + "' is not passthrough, local or translate");
    }
    hostname_ = config.string("hostname");
    const auto file = config.string("registry");
    if (mode_ != "passthrough") {
      if (file.empty()) throw iotgw::Error("mode " + mode_ + " needs 'registry'");
      // It holds every device's key.
      if (auto refused = iotgw::refuse_public_file(file)) throw iotgw::Error(refused->why);
      try {
        registry_ = iotgw::hub::Registry::load(file);
      } catch (const std::exception& e) {
        throw iotgw::Error(e.what());
      }
      if (hostname_.empty()) hostname_ = registry_->hostname;
    }
  }

  iotgw::AuthDecision authenticate(const iotgw_credentials& creds, const iotgw_identity&,
                                   iotgw::PendingAuth) override {
    const std::string device(iotgw::to_view(creds.client_id));
    const std::string token(reinterpret_cast<const char*>(creds.password.data),
                            creds.password.size);
    std::string why;
    const auto t = iotgw::sas::parse(token, why);
    if (!t) return iotgw::AuthDecision::refuse("not a SAS token: " + why);
    if (t->expiry <= iotgw::unix_seconds()) return iotgw::AuthDecision::refuse("token expired");
    const std::string audience = (hostname_.empty() ? resource_host(t->resource) : hostname_) +
                                 "/devices/" + iotgw::sas::url_encode(device);
    if (!iotgw::sas::covers(t->resource, audience)) {
      return iotgw::AuthDecision::refuse("token for '" + t->resource + "' does not cover " +
                                         audience);
    }
    if (registry_) {
      const auto* d = registry_->device(device);
      if (d == nullptr) return iotgw::AuthDecision::refuse("device '" + device + "' is unknown");
      if (!d->enabled) return iotgw::AuthDecision::refuse("device '" + device + "' is disabled");
      if (!t->policy.empty()) {
        return iotgw::AuthDecision::refuse("a device logs in with its own key, not a policy");
      }
      const bool signed_ok =
          iotgw::sas::signed_with(*t, d->primary_key) ||
          (!d->secondary_key.empty() && iotgw::sas::signed_with(*t, d->secondary_key));
      if (!signed_ok)
        return iotgw::AuthDecision::refuse("signature does not match the device's keys");
    }
    auto yes = iotgw::AuthDecision::accept(device, "sas");
    if (mode_ != "translate") yes.hub_token = token;
    return yes;
  }

 private:
  static std::string resource_host(const std::string& resource) {
    std::string r = resource;
    if (auto at = r.find("://"); at != std::string::npos) r = r.substr(at + 3);
    return r.substr(0, r.find('/'));
  }

  std::string mode_, hostname_;
  std::optional<iotgw::hub::Registry> registry_;
};

}  // namespace

IOTGW_STAGE_PLUGIN(AuthSas)
