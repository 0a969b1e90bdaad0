// `auth-file`: the custom-auth example. Devices log in with a user name and password checked
// against salted PBKDF2-SHA256 hashes, or with a client certificate the TLS listener verified,
// recognised by thumbprint or CN; either way the credentials file says which device that is.
// The hub never sees these credentials: with a policy on the bridge, it mints the device's hub
// token (identity translation). The file is read when the stage is built, so SIGHUP reloads it.
#include <iotgw/plugin.hpp>

#include "credentials.hpp"
#include "iotgw/common/secret_file.hpp"

namespace {

class AuthFile final : public iotgw::StageBase {
 public:
  static constexpr const char* name = "auth-file";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "authenticator: user names with PBKDF2 hashes, client certificates or DTLS pre-shared "
      "keys, mapped to devices";
  static constexpr iotgw_config_key config_keys[] = {
      {"file", IOTGW_CFG_STRING, nullptr,
       "the credentials file (users, certificates, psk); iotgw-auth-file add FILE USER DEVICE"},
  };

  AuthFile(const iotgw::Context& ctx, const iotgw::Config& config) : StageBase(ctx) {
    const auto file = config.string("file");
    // Its pre-shared keys are secrets, and its hashes are better kept from offline guessing.
    if (auto refused = iotgw::refuse_public_file(file)) throw iotgw::Error(refused->why);
    try {
      creds_ = iotgw::authfile::Credentials::load(file);
    } catch (const std::exception& e) {
      throw iotgw::Error(e.what());
    }
  }

  std::optional<std::string> psk_key(std::string_view identity) const override {
    const auto* psk = creds_.find_psk(identity);
    return psk != nullptr ? std::optional<std::string>(psk->key) : std::nullopt;
  }

  iotgw::AuthDecision authenticate(const iotgw_credentials& c, const iotgw_identity&,
                                   iotgw::PendingAuth) override {
    // The DTLS handshake proved the key behind this identity; the file says whose it is.
    if (const auto identity = iotgw::psk_identity_of(c); !identity.empty()) {
      if (const auto* psk = creds_.find_psk(identity)) {
        return iotgw::AuthDecision::accept(psk->device, "psk");
      }
      return iotgw::AuthDecision::refuse("PSK identity '" + std::string(identity) +
                                         "' is not in the file");
    }
    const std::string thumbprint(iotgw::to_view(c.cert_sha256));
    const std::string cn(iotgw::to_view(c.cert_subject_cn));
    if (!thumbprint.empty() || !cn.empty()) {
      if (auto device = creds_.check_certificate(thumbprint, cn)) {
        return iotgw::AuthDecision::accept(*device, "x509");
      }
      if (c.password.size == 0) {
        return iotgw::AuthDecision::refuse("certificate CN '" + cn + "' is not in the file");
      }
    }
    // An IoT Hub user name ({hub}/{device}/?api-version=...) names the client id: then the
    // client id is the user; any other user name is the user itself.
    std::string user(iotgw::to_view(c.username));
    if (user.empty() || user.find('/') != std::string::npos) user = iotgw::to_view(c.client_id);
    const std::string password(reinterpret_cast<const char*>(c.password.data), c.password.size);
    std::string why;
    if (auto device = creds_.check_password(user, password, why)) {
      return iotgw::AuthDecision::accept(*device, "password");
    }
    return iotgw::AuthDecision::refuse(why);
  }

 private:
  iotgw::authfile::Credentials creds_;
};

}  // namespace

IOTGW_STAGE_PLUGIN(AuthFile)
