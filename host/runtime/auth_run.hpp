// One authentication: the listener's authenticators in order, each of which may answer at once
// or later (from any thread, through api->auth_complete). The result comes back on the
// connection's loop, never inside the adapter's authenticate call.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "bridge/bridge.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/upgrade_view.hpp"

// The opaque handle authenticators receive.
struct iotgw_auth {
  virtual ~iotgw_auth() = default;
  virtual void complete(iotgw_status status, const iotgw_identity* identity,
                        const char* reason) = 0;
};

namespace iotgw::runtime {

struct OwnedCredentials {
  std::string client_id, username, password, peer_address, cert_subject_cn, cert_sha256,
      psk_identity;
  std::shared_ptr<const UpgradeView> upgrade;  // ws and wss
  std::string_view transport;  // static text: "tcp", "tls", "ws", "wss", "udp", "dtls"
  // What the adapter passed; the host's own fields (transport facts) are the caller's to set.
  static OwnedCredentials copy(const iotgw_credentials& c);
  iotgw_credentials view() const;
};

class AuthRun final : public iotgw_auth, public std::enable_shared_from_this<AuthRun> {
 public:
  using Done =
      std::function<void(iotgw_status, const bridge::Identity&, const std::string& reason)>;

  AuthRun(std::shared_ptr<const Pipeline> pipeline, OwnedCredentials credentials,
          boost::asio::io_context& loop, Done done);
  void start();
  void complete(iotgw_status status, const iotgw_identity* identity, const char* reason) override;

 private:
  void step();
  void finish(iotgw_status status, const std::string& reason);
  static void count(const StageRef& stage, iotgw_status status);
  void adopt(const iotgw_identity& identity);

  std::shared_ptr<const Pipeline> pipeline_;
  OwnedCredentials credentials_;
  boost::asio::io_context& loop_;
  Done done_;
  std::size_t next_ = 0;
  bridge::Identity identity_;
  std::shared_ptr<AuthRun> pending_self_;  // alive while an authenticator holds the handle
};

}  // namespace iotgw::runtime
