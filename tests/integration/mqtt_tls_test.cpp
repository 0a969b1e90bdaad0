// MQTT over TLS with X.509 device login: the listener verifies client certificates against the
// operator's CA, and the auth stage reads the verified CN (from the host, never the adapter).
// Real mosquitto_pub on 127.0.0.1, certificates from a CA the test makes.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "process.hpp"
#include "test_pki.hpp"

namespace iotgw::test {
namespace {

class MqttTls : public testing::Test {
 protected:
  MqttTls() : pki(dir.path()) {
    pki.issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
    pki.issue("dev1", "dev1");
    pki.issue("dev2", "dev2");
    pki.self_signed("rogue", "dev1");
  }

  std::string topology(const std::string& client_cert = "required") const {
    return "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge() +
           "stages:\n"
           "  - {name: x509, plugin: tag, config: {cert: 'yes'}}\n"
           "listeners:\n"
           "  - name: mqtts\n"
           "    adapter: mqtt\n"
           "    transport: tls\n"
           "    bind: '127.0.0.1:0'\n"
           "    tls: {cert_file: " +
           pki.cert("server") + ", key_file: " + pki.key("server") + ", ca_file: " + pki.ca() +
           ", client_cert: " + client_cert +
           "}\n"
           "    auth: [x509]\n";
  }

  RunResult publish(std::uint16_t port, const std::string& device, const std::string& cert,
                    const std::string& body) const {
    return run("/usr/bin/mosquitto_pub",
               {"-h",       "127.0.0.1",
                "-p",       std::to_string(port),
                "-V",       "mqttv311",
                "--cafile", pki.ca(),
                "--cert",   pki.cert(cert),
                "--key",    pki.key(cert),
                "-i",       device,
                "-u",       std::string(kHubHost) + "/" + device + "/?api-version=2021-04-12",
                "-q",       "1",
                "-t",       "devices/" + device + "/messages/events/",
                "-m",       body},
               std::chrono::seconds(20));
  }

  TempDir dir;
  TestPki pki;
  HubUnderTest hub;
};

TEST_F(MqttTls, ADeviceLogsInWithItsCertificate) {
  GatewayUnderTest gw(topology());
  const auto r = publish(gw.port("mqtts"), "dev1", "dev1", "signed by my certificate");
  EXPECT_EQ(r.code, 0) << r.output << gw.process().output();
  const auto seen = hub.monitor(1);
  EXPECT_NE(seen.find(R"("device":"dev1")"), std::string::npos) << seen;
  EXPECT_NE(seen.find("signed by my certificate"), std::string::npos) << seen;
}

TEST_F(MqttTls, AnotherDevicesCertificateGetsConnack4) {
  GatewayUnderTest gw(topology());
  const auto r = publish(gw.port("mqtts"), "dev1", "dev2", "not mine");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("bad user name or password"), std::string::npos) << r.output;
  EXPECT_TRUE(gw.process().wait_for("certificate CN 'dev2' is not the device"));
}

TEST_F(MqttTls, ACertificateNoCaVouchesForFailsTheHandshakeOnly) {
  GatewayUnderTest gw(topology());
  const auto port = gw.port("mqtts");
  const auto rogue = publish(port, "dev1", "rogue", "forged");
  EXPECT_NE(rogue.code, 0) << rogue.output;
  const auto good = publish(port, "dev1", "dev1", "still serving");
  EXPECT_EQ(good.code, 0) << good.output;
  const auto seen = hub.monitor(1);
  EXPECT_EQ(seen.find("forged"), std::string::npos) << seen;
}

TEST_F(MqttTls, WithoutAClientCertificateTheX509StageRefuses) {
  GatewayUnderTest gw(topology("optional"));
  const auto r = run(
      "/usr/bin/mosquitto_pub",
      {"-h", "127.0.0.1", "-p", std::to_string(gw.port("mqtts")), "-V", "mqttv311", "--cafile",
       pki.ca(), "-i", "dev1", "-q", "1", "-t", "devices/dev1/messages/events/", "-m", "anonymous"},
      std::chrono::seconds(20));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("bad user name or password"), std::string::npos) << r.output;
  EXPECT_TRUE(gw.process().wait_for("no verified client certificate"));
}

}  // namespace
}  // namespace iotgw::test
