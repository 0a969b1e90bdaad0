// auth-sas with real SAS tokens (minted by iotgw-hub's CLI from the registry keys) and a real
// MQTT client, upstream a real iotgw-hub: passthrough, local and translate.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

class AuthSas : public testing::Test {
 protected:
  // The gateway's own registry: dev1 with a key the hub has never seen.
  AuthSas() {
    write_secret_file(dir / "gateway-registry.yaml",
               std::string("hostname: ") + kHubHost +
                   "\ndevices:\n  - {id: dev1, primary_key: "
                   "Z2F0ZXdheS1vbmx5LWtleS1mb3ItZGV2MS0wMDAwMDE=}\n"
                   "  - {id: off, primary_key: Z2F0ZXdheS1vbmx5LWtleS1mb3ItZGV2MS0wMDAwMDE=, "
                   "status: disabled}\n");
  }
  std::string token(const std::string& registry, const std::string& device,
                    const std::string& ttl = "3600") const {
    auto r = run(kHub, {"token", "--registry", registry, "--device", device, "--ttl", ttl});
    EXPECT_EQ(r.code, 0) << r.output;
    while (!r.output.empty() && (r.output.back() == '\n' || r.output.back() == '\r')) {
      r.output.pop_back();
    }
    return r.output;
  }
  std::string topology(const std::string& stage_config, bool policy) const {
    return "gateway: {plugins_dir: plugins, threads: 2}\n"
           "bridge: {flavour: iothub, url: '" +
           hub.url() + "', hostname: " + kHubHost +
           (policy ? std::string(", policy: gateway, policy_key: '") + kGatewayKey + "'" : "") +
           ", attach_timeout: 3s}\n"
           "stages:\n  - {name: sas, plugin: auth-sas, config: " +
           stage_config +
           "}\n"
           "listeners:\n  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0', auth: [sas]}\n";
  }
  RunResult publish(std::uint16_t port, const std::string& device, const std::string& password,
                    const std::string& body) const {
    return run("/usr/bin/mosquitto_pub",
               {"-h", "127.0.0.1", "-p", std::to_string(port), "-V", "mqttv311", "-i", device, "-u",
                std::string(kHubHost) + "/" + device + "/?api-version=2021-04-12", "-P", password,
                "-q", "1", "-t", "devices/" + device + "/messages/events/", "-m", body},
               std::chrono::seconds(20));
  }

  TempDir dir;
  HubUnderTest hub;
};

TEST_F(AuthSas, PassthroughSendsTheDevicesOwnTokenToTheHub) {
  GatewayUnderTest gw(topology("{mode: passthrough}", false));  // no policy: nothing to mint
  const auto port = gw.port("mqtt");
  EXPECT_EQ(publish(port, "dev1", token(hub.registry(), "dev1"), "own token").code, 0)
      << gw.process().output();
  EXPECT_NE(hub.monitor(1).find(R"("body":"own token")"), std::string::npos);
  const auto other = publish(port, "dev1", token(hub.registry(), "dev2"), "x");
  EXPECT_NE(other.output.find("bad user name or password"), std::string::npos) << other.output;
  EXPECT_TRUE(gw.process().wait_for("does not cover localhub.azure-devices.net/devices/dev1"));
  const auto junk = publish(port, "dev1", "hunter2", "x");
  EXPECT_NE(junk.output.find("bad user name or password"), std::string::npos) << junk.output;
  // Well formed, right audience, but signed with a key the hub does not hold: the hub says no.
  const auto forged =
      publish(port, "dev1", token((dir / "gateway-registry.yaml").string(), "dev1"), "x");
  EXPECT_NE(forged.output.find("broker unavailable"), std::string::npos) << forged.output;
}

TEST_F(AuthSas, LocalChecksTheSignatureAgainstTheRegistry) {
  GatewayUnderTest gw(topology("{mode: local, registry: " + hub.registry() + "}", false));
  const auto port = gw.port("mqtt");
  EXPECT_EQ(publish(port, "dev1", token(hub.registry(), "dev1"), "checked here").code, 0);
  const auto forged =
      publish(port, "dev1", token((dir / "gateway-registry.yaml").string(), "dev1"), "x");
  EXPECT_NE(forged.output.find("bad user name or password"), std::string::npos) << forged.output;
  EXPECT_TRUE(gw.process().wait_for("signature does not match the device's keys"));
  const auto off = publish(port, "off", token(hub.registry(), "off"), "x");
  EXPECT_NE(off.output.find("bad user name or password"), std::string::npos) << off.output;
  EXPECT_TRUE(gw.process().wait_for("device 'off' is disabled"));
}

TEST_F(AuthSas, TranslateMintsTheHubTokenFromTheGatewaysPolicy) {
  // The device's key is known to the gateway only; the hub sees a token minted from the policy.
  GatewayUnderTest gw(topology(
      "{mode: translate, registry: " + (dir / "gateway-registry.yaml").string() + "}", true));
  const auto r = publish(gw.port("mqtt"), "dev1",
                         token((dir / "gateway-registry.yaml").string(), "dev1"), "translated");
  EXPECT_EQ(r.code, 0) << r.output << gw.process().output();
  EXPECT_NE(hub.monitor(1).find(R"("body":"translated")"), std::string::npos);
}

}  // namespace
}  // namespace iotgw::test
