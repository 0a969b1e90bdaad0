// auth-file, the custom-auth example: a credentials file written by iotgw-auth-file (password
// from stdin, never on the command line), user names and client certificates mapped to devices,
// and the bridge minting each device's hub token (identity translation). Real mosquitto_pub.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "process.hpp"
#include "test_pki.hpp"

namespace iotgw::test {
namespace {

const std::filesystem::path kTool = IOTGW_TEST_BUILD_DIR "/plugins/auth-file/iotgw-auth-file";

class AuthFile : public testing::Test {
 protected:
  AuthFile() : pki(dir.path()) {
    pki.issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
    pki.issue("meter", "meter-7");
    pki.issue("stranger", "stranger");
    const auto add = run("/bin/sh", {"-c", "printf 'correct horse\\n' | " + kTool.string() +
                                               " add " + creds() + " alice dev1"});
    EXPECT_EQ(add.code, 0) << add.output;
    // The thumbprint as openssl prints it (AB:CD:...); the file takes it as written.
    auto fp = run("/usr/bin/openssl",
                  {"x509", "-noout", "-fingerprint", "-sha256", "-in", pki.cert("meter")});
    const auto eq = fp.output.find('=');
    thumbprint = fp.output.substr(eq + 1, fp.output.find('\n') - eq - 1);
    std::string file = read_file(creds());
    file = file.substr(0, file.find("certificates:")) + "certificates:\n  - {thumbprint: '" +
           thumbprint + "', device: dev2}\n";
    write_secret_file(creds(), file);
  }
  std::string creds() const { return (dir / "credentials.yaml").string(); }
  std::string topology() const {
    return "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge() +
           "stages:\n  - {name: users, plugin: auth-file, config: {file: " + creds() +
           "}}\n"
           "listeners:\n"
           "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0', auth: [users]}\n"
           "  - name: mqtts\n    adapter: mqtt\n    transport: tls\n    bind: '127.0.0.1:0'\n"
           "    tls: {cert_file: " +
           pki.cert("server") + ", key_file: " + pki.key("server") + ", ca_file: " + pki.ca() +
           ", client_cert: required}\n"
           "    auth: [users]\n";
  }
  RunResult publish(std::uint16_t port, const std::vector<std::string>& login,
                    const std::string& device, const std::string& body) const {
    std::vector<std::string> args{"-h", "127.0.0.1",
                                  "-p", std::to_string(port),
                                  "-V", "mqttv311",
                                  "-q", "1",
                                  "-t", "devices/" + device + "/messages/events/",
                                  "-m", body};
    args.insert(args.end(), login.begin(), login.end());
    return run("/usr/bin/mosquitto_pub", args, std::chrono::seconds(20));
  }

  TempDir dir;
  TestPki pki;
  std::string thumbprint;
  HubUnderTest hub;
};

TEST_F(AuthFile, TheToolStoresAHashNeverThePassword) {
  const auto file = read_file(creds());
  EXPECT_EQ(file.find("correct horse"), std::string::npos) << file;
  EXPECT_NE(file.find("user: alice"), std::string::npos) << file;
  EXPECT_NE(file.find("iterations: 210000"), std::string::npos) << file;
}

TEST_F(AuthFile, AUserLogsInAsItsDeviceAndTheHubGetsAMintedToken) {
  GatewayUnderTest gw(topology());
  const auto port = gw.port("mqtt");
  const auto ok =
      publish(port, {"-i", "dev1", "-u", "alice", "-P", "correct horse"}, "dev1", "from alice");
  EXPECT_EQ(ok.code, 0) << ok.output << gw.process().output();
  EXPECT_NE(hub.monitor(1).find(R"("device":"dev1")"), std::string::npos);
  const auto wrong =
      publish(port, {"-i", "dev1", "-u", "alice", "-P", "battery staple"}, "dev1", "x");
  EXPECT_NE(wrong.output.find("bad user name or password"), std::string::npos) << wrong.output;
  EXPECT_TRUE(gw.process().wait_for("wrong password for 'alice'"));
  const auto unknown = publish(port, {"-i", "dev1", "-u", "bob", "-P", "x"}, "dev1", "x");
  EXPECT_NE(unknown.output.find("bad user name or password"), std::string::npos);
  EXPECT_TRUE(gw.process().wait_for("unknown user 'bob'"));
}

TEST_F(AuthFile, ACertificateLogsInAsTheDeviceItsThumbprintNames) {
  GatewayUnderTest gw(topology());
  const auto port = gw.port("mqtts");
  const auto ok = publish(
      port,
      {"--cafile", pki.ca(), "--cert", pki.cert("meter"), "--key", pki.key("meter"), "-i", "dev2"},
      "dev2", "from the meter");
  EXPECT_EQ(ok.code, 0) << ok.output << gw.process().output();
  EXPECT_NE(hub.monitor(1).find(R"("device":"dev2")"), std::string::npos);
  const auto stranger = publish(port,
                                {"--cafile", pki.ca(), "--cert", pki.cert("stranger"), "--key",
                                 pki.key("stranger"), "-i", "dev2"},
                                "dev2", "x");
  EXPECT_NE(stranger.output.find("bad user name or password"), std::string::npos)
      << stranger.output;
  EXPECT_TRUE(gw.process().wait_for("certificate CN 'stranger' is not in the file"));
}

}  // namespace
}  // namespace iotgw::test
