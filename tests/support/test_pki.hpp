// A certificate authority of the test's own, made with the openssl command: what an operator's
// private PKI looks like. Issues server certificates (with the names a client checks) and client
// certificates (with the CN a device is known by).
#pragma once

#include <filesystem>
#include <string>

namespace iotgw::test {

class TestPki {
 public:
  explicit TestPki(std::filesystem::path dir);  // makes ca.pem and ca.key in dir
  std::string ca() const { return (dir_ / "ca.pem").string(); }
  // Writes NAME.pem and NAME.key signed by the CA; `san` like "DNS:host,IP:127.0.0.1".
  void issue(const std::string& name, const std::string& cn, const std::string& san = "") const;
  // A certificate that signs itself: no CA here vouches for it.
  void self_signed(const std::string& name, const std::string& cn) const;
  std::string cert(const std::string& name) const { return (dir_ / (name + ".pem")).string(); }
  std::string key(const std::string& name) const { return (dir_ / (name + ".key")).string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace iotgw::test
