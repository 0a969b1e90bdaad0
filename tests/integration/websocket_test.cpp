// MQTT over WebSockets: listeners with transport ws and wss in the real gateway, the real mqtt
// plugin unchanged above them, a real iotgw-hub upstream, and python3-paho-mqtt as the device.
// The upgrade's refusals and the frame rules are checked with raw sockets
// (tests/integration/ws_device.py), reading the HTTP status or close code the gateway sent.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "process.hpp"
#include "test_pki.hpp"

namespace iotgw::test {
namespace {

const std::string kWsDevice =
    std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/integration/ws_device.py";
constexpr const char* kPassword = "opensesame";
constexpr const char* kPath = "/$iothub/websocket";

class WebSocket : public testing::Test {
 protected:
  WebSocket() : pki(dir.path()) {
    pki.issue("server", "localhost", "DNS:localhost,IP:127.0.0.1");
    pki.issue("dev1", "dev1");
  }

  // One mqtt listener `ws` over `transport`, its `websocket:` map, and an auth stage of the tag
  // plugin with `auth` as its config; `bridge` is a `bridge:` block or empty (loopback).
  std::string topology(const std::string& transport, const std::string& websocket,
                       const std::string& auth, const std::string& bridge = "") const {
    std::string yaml = "gateway: {plugins_dir: plugins, threads: 2}\n" + bridge +
                       "stages:\n"
                       "  - {name: door, plugin: tag, config: " +
                       auth +
                       "}\n"
                       "listeners:\n"
                       "  - name: ws\n"
                       "    adapter: mqtt\n"
                       "    transport: " +
                       transport +
                       "\n"
                       "    bind: '127.0.0.1:0'\n"
                       "    auth: [door]\n";
    if (!websocket.empty()) yaml += "    websocket: " + websocket + "\n";
    if (transport == "wss") {
      yaml += "    tls: {cert_file: " + pki.cert("server") + ", key_file: " + pki.key("server") +
              ", ca_file: " + pki.ca() + ", client_cert: optional}\n";
    }
    return yaml;
  }
  std::string password_auth() const { return std::string("{secret: ") + kPassword + "}"; }

  // ws_device.py COMMAND ARGS..., run to its end.
  static RunResult device(const std::string& command, std::vector<std::string> args) {
    args.insert(args.begin(), {kWsDevice, command});
    return run("/usr/bin/python3", args, std::chrono::seconds(60));
  }
  // The raw upgrade's "status CODE BODY" line.
  static std::string upgrade_status(std::uint16_t port, std::vector<std::string> args) {
    args.insert(args.begin(), std::to_string(port));
    const auto r = device("upgrade", args);
    EXPECT_EQ(r.code, 0) << r.output;
    return r.output;
  }

  // A paho device publishes through the gateway: the hub holds the message, and a C2D message
  // sent once it subscribed comes back to it.
  void publish_and_receive(GatewayUnderTest& gw, const std::vector<std::string>& extra) {
    std::vector<std::string> args{kWsDevice, "paho",    std::to_string(gw.port("ws")),
                                  "dev1",    kPassword, kPath};
    args.insert(args.end(), extra.begin(), extra.end());
    Process paho("/usr/bin/python3", args, dir.path() / "paho.log");
    ASSERT_TRUE(paho.wait_for("subscribed", std::chrono::seconds(20)))
        << paho.output() << gw.process().output();
    ASSERT_TRUE(paho.wait_for("acked", std::chrono::seconds(20))) << paho.output();
    const auto sent = hub.send("dev1", "back down the websocket");
    ASSERT_EQ(sent.code, 0) << sent.output;
    EXPECT_TRUE(paho.wait_for("message back down the websocket", std::chrono::seconds(20)))
        << paho.output();
    EXPECT_EQ(paho.wait_exit(std::chrono::seconds(20)), 0) << paho.output();
    const auto seen = hub.monitor(1);
    EXPECT_NE(seen.find(R"("device":"dev1")"), std::string::npos) << seen;
    EXPECT_NE(seen.find("hello over websockets"), std::string::npos) << seen;
  }

  TempDir dir;
  TestPki pki;
  HubUnderTest hub;
};

TEST_F(WebSocket, MqttOverWsReachesTheHubAndC2dComesBack) {
  GatewayUnderTest gw(topology("ws", "", password_auth(), hub.minting_bridge()));
  publish_and_receive(gw, {});
}

TEST_F(WebSocket, MqttOverWssLogsInWithTheClientCertificateTheAuthStageSees) {
  // The stage takes the device only with a verified certificate whose CN is its client id.
  GatewayUnderTest gw(topology("wss", "", "{cert: 'yes', transport: wss}", hub.minting_bridge()));
  publish_and_receive(gw, {"--ca", pki.ca(), "--cert", pki.cert("dev1"), "--key", pki.key("dev1")});
}

TEST_F(WebSocket, WithoutAClientCertificateTheWssAuthStageRefuses) {
  GatewayUnderTest gw(topology("wss", "", "{cert: 'yes'}"));
  const auto r =
      device("paho", {std::to_string(gw.port("ws")), "dev1", kPassword, kPath, "--ca", pki.ca()});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("connack 4"), std::string::npos)
      << r.output;  // bad user name or password
}

TEST_F(WebSocket, TheAuthStagesSeeTheUpgradePathAndHeaders) {
  const std::string path = std::string(kPath) + "?tenant=7";
  GatewayUnderTest gw(topology("ws", "",
                               "{transport: ws, path: '" + path +
                                   "', header: X-Device-Group=blue, secret: " + kPassword + "}"));
  const auto port = std::to_string(gw.port("ws"));
  const auto good =
      device("paho", {port, "dev1", kPassword, path, "--header", "X-Device-Group=blue"});
  EXPECT_NE(good.output.find("acked"), std::string::npos) << good.output;
  const auto wrong_header =
      device("paho", {port, "dev1", kPassword, path, "--header", "X-Device-Group=red"});
  EXPECT_NE(wrong_header.output.find("connack 4"), std::string::npos) << wrong_header.output;
  const auto no_header = device("paho", {port, "dev1", kPassword, path});
  EXPECT_NE(no_header.output.find("connack 4"), std::string::npos) << no_header.output;
  const auto wrong_query =
      device("paho", {port, "dev1", kPassword, std::string(kPath) + "?tenant=8", "--header",
                      "X-Device-Group=blue"});
  EXPECT_NE(wrong_query.output.find("connack 4"), std::string::npos) << wrong_query.output;
}

TEST_F(WebSocket, AnotherPathIsRefusedWith404) {
  GatewayUnderTest gw(topology("ws", "", password_auth()));
  EXPECT_EQ(upgrade_status(gw.port("ws"), {"--path", "/mqtt"}),
            "status 404 path '/mqtt' is not /$iothub/websocket\n");
  // The query is not part of the path compared.
  EXPECT_EQ(upgrade_status(gw.port("ws"), {"--path", std::string(kPath) + "?a=b"}),
            "status 101 \n");
}

TEST_F(WebSocket, AConfiguredPathIsTheOneServed) {
  GatewayUnderTest gw(topology("ws", "{path: /mqtt}", password_auth()));
  EXPECT_EQ(upgrade_status(gw.port("ws"), {"--path", "/mqtt"}), "status 101 \n");
  EXPECT_EQ(upgrade_status(gw.port("ws"), {"--path", kPath}),
            "status 404 path '/$iothub/websocket' is not /mqtt\n");
}

TEST_F(WebSocket, AMissingOrWrongSubprotocolIsRefusedWith400) {
  GatewayUnderTest gw(topology("ws", "", password_auth()));
  const auto port = gw.port("ws");
  EXPECT_EQ(upgrade_status(port, {"--protocol", ""}),
            "status 400 Sec-WebSocket-Protocol must offer one of: mqtt\n");
  EXPECT_EQ(upgrade_status(port, {"--protocol", "AMQPWSB10"}),
            "status 400 Sec-WebSocket-Protocol 'AMQPWSB10' offers none of: mqtt\n");
  EXPECT_EQ(upgrade_status(port, {"--protocol", "AMQPWSB10, mqtt"}), "status 101 \n");
}

TEST_F(WebSocket, AnOriginNotListedIsRefusedWith403) {
  GatewayUnderTest gw(topology("ws", "{origins: ['https://ok.example']}", password_auth()));
  const auto port = gw.port("ws");
  EXPECT_EQ(upgrade_status(port, {"--origin", "https://evil.example"}),
            "status 403 Origin 'https://evil.example' is not allowed (allowed: "
            "https://ok.example)\n");
  EXPECT_EQ(upgrade_status(port, {}),
            "status 403 no Origin header (allowed: https://ok.example)\n");
  EXPECT_EQ(upgrade_status(port, {"--origin", "https://ok.example"}), "status 101 \n");
}

TEST_F(WebSocket, AnOversizedUpgradeIsRefused) {
  GatewayUnderTest gw(topology("ws", "{max_upgrade_size: 1KB}", password_auth()));
  const auto port = gw.port("ws");
  EXPECT_EQ(upgrade_status(port, {"--pad", "2000"}),
            "status 431 the upgrade request is larger than 1024 bytes\n");
  EXPECT_EQ(upgrade_status(port, {"--pad", "100"}), "status 101 \n");
  EXPECT_TRUE(gw.process().wait_for("refused \\(431\\)"));
}

TEST_F(WebSocket, OverWssTheRefusalComesOverTls) {
  GatewayUnderTest gw(topology("wss", "", password_auth()));
  EXPECT_EQ(upgrade_status(gw.port("ws"), {"--ca", pki.ca(), "--path", "/nope"}),
            "status 404 path '/nope' is not /$iothub/websocket\n");
}

TEST_F(WebSocket, ASilentSocketIsClosedAfterTheUpgradeTimeout) {
  GatewayUnderTest gw(
      "gateway: {plugins_dir: plugins, threads: 1}\n"
      "listeners:\n"
      "  - {name: ws, adapter: mqtt, transport: ws, bind: '127.0.0.1:0', max_connections: 1,\n"
      "     websocket: {upgrade_timeout: 1s}}\n");
  const auto port = std::to_string(gw.port("ws"));
  const auto r = device("silent", {port});
  EXPECT_EQ(r.output, "closed\n");
  // Its slot is free again: the one connection allowed is upgraded.
  EXPECT_EQ(upgrade_status(gw.port("ws"), {}), "status 101 \n");
}

TEST_F(WebSocket, ASilentTlsSocketIsClosedAfterTheUpgradeTimeout) {
  GatewayUnderTest gw(topology("wss", "{upgrade_timeout: 1s}", password_auth()));
  const auto port = std::to_string(gw.port("ws"));
  EXPECT_EQ(device("silent", {port}).output, "closed\n");                    // no ClientHello
  EXPECT_EQ(device("silent", {port, "--ca", pki.ca()}).output, "closed\n");  // TLS, no request
}

TEST_F(WebSocket, ATextMessageClosesWith1003) {
  GatewayUnderTest gw(topology("ws", "", password_auth()));
  const auto r = device("text", {std::to_string(gw.port("ws"))});
  EXPECT_EQ(r.output, "close 1003\n");
}

}  // namespace
}  // namespace iotgw::test
