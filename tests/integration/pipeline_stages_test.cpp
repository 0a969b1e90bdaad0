// The full pipeline with an independent check: a message published with mosquitto_pub goes
// through zstd and aes-gcm, the bridge and iotgw-hub, and a Python back end recovers it with
// python3-zstandard and python3-cryptography from the documented envelope. The other way round,
// the back end compresses and encrypts, and the device (paho) receives plaintext. A C2D message
// that does not verify is rejected upstream with the reason, and the device never sees it.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "line_client.hpp"
#include "process.hpp"

namespace iotgw::test {
namespace {

const std::string kPeer = std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/integration/service_peer.py";
const std::string kDevice =
    std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/integration/mqtt_device.py";
constexpr const char* kServiceKey = "c2VydmljZS1wb2xpY3kta2V5LWZvci10ZXN0cy0wMDE=";

// As Python's json.dumps writes it.
std::string json_escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

class PipelineStages : public testing::Test {
 protected:
  PipelineStages() {
    write_file(keys.path() / "k1.key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
    chmod((keys.path() / "k1.key").c_str(), 0600);
    write_file(keys.path() / "rogue.key", "HxwdHhscGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=\n");
    chmod((keys.path() / "rogue.key").c_str(), 0600);
  }
  std::string key(const char* id) const {
    return (keys.path() / (std::string(id) + ".key")).string();
  }
  std::string topology() const {
    return "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge() +
           "stages:\n"
           "  - {name: squeeze, plugin: zstd, config: {min_bytes: 16}}\n"
           "  - {name: seal, plugin: aes-gcm, config: {keys: [" +
           key("k1") +
           "]}}\n"
           "listeners:\n"
           "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0', pipeline: [squeeze, seal]}\n";
  }
  // dev1 on paho, subscribed to its C2D (the caller waits for "subscribed"), expecting one message.
  static std::unique_ptr<Process> subscribed_device(GatewayUnderTest& gw, const TempDir& dir) {
    return std::make_unique<Process>(
        "/usr/bin/python3",
        std::vector<std::string>{kDevice, "paho-c2d", std::to_string(gw.port("mqtt")), "dev1", "x",
                                 "1"},
        dir / "device.log");
  }
  RunResult peer(std::vector<std::string> args) const {
    args.insert(args.begin() + 1, {hub.url(), kHubHost, kServiceKey});
    args.insert(args.begin(), kPeer);
    return run("/usr/bin/python3", args, std::chrono::seconds(30));
  }

  TempDir keys;
  HubUnderTest hub;
};

TEST_F(PipelineStages, ABackEndRecoversWhatTheDeviceSentWithOtherLibraries) {
  GatewayUnderTest gw(topology());
  const std::string text(400, 'r');  // compressible: the wire carries far less
  const auto pub =
      run("/usr/bin/mosquitto_pub",
          {"-h", "127.0.0.1", "-p", std::to_string(gw.port("mqtt")), "-V", "mqttv311", "-i", "dev1",
           "-q", "1", "-t", "devices/dev1/messages/events/kind=reading", "-m", text},
          std::chrono::seconds(20));
  ASSERT_EQ(pub.code, 0) << pub.output << gw.process().output();
  const auto got = peer({"receive", key("k1"), "1"});
  ASSERT_EQ(got.code, 0) << got.output;
  EXPECT_NE(got.output.find(R"("device": "dev1", "text": ")" + text + "\""), std::string::npos)
      << got.output;
  EXPECT_NE(got.output.find(R"("kind": "reading")"), std::string::npos) << got.output;
  EXPECT_NE(got.output.find(R"("iotgw-encryption": "aes-256-gcm/1")"), std::string::npos);
  EXPECT_NE(got.output.find(R"("wire_bytes": 5)"), std::string::npos) << got.output;  // 5x bytes
}

TEST_F(PipelineStages, TheDeviceReceivesPlaintextOfWhatTheBackEndSealed) {
  GatewayUnderTest gw(topology());
  TempDir dir;
  auto device = subscribed_device(gw, dir);
  ASSERT_TRUE(device->wait_for("subscribed \\[1\\]", std::chrono::seconds(20))) << device->output();
  const auto sent = peer({"send", key("k1"), "dev1", "turn the valve"});
  ASSERT_EQ(sent.code, 0) << sent.output;
  EXPECT_TRUE(device->wait_for("message turn the valve devices/dev1/messages/devicebound/"))
      << device->output() << gw.process().output();
  EXPECT_EQ(device->wait_exit(std::chrono::seconds(20)), 0);
}

TEST_F(PipelineStages, AC2dMessageSealedWithAnUnknownKeyIsRejectedWithTheReason) {
  GatewayUnderTest gw(topology());
  TempDir dir;
  auto device = subscribed_device(gw, dir);
  ASSERT_TRUE(device->wait_for("subscribed \\[1\\]", std::chrono::seconds(20))) << device->output();
  ASSERT_EQ(peer({"send", key("rogue"), "dev1", "forged order"}).code, 0);
  EXPECT_TRUE(gw.process().wait_for(
      "dev1: downstream message refused: stage 'seal': aes-gcm: unknown key id 'rogue'"))
      << gw.process().output();
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Rejected"))
      << hub.process().output();
  EXPECT_EQ(device->output().find("forged"), std::string::npos);
}

TEST_F(PipelineStages, AZstdBombFromTheBackEndIsRejectedAndTheNextMessageStillComes) {
  GatewayUnderTest gw(topology());
  TempDir dir;
  auto device = subscribed_device(gw, dir);
  ASSERT_TRUE(device->wait_for("subscribed \\[1\\]", std::chrono::seconds(20))) << device->output();
  // 16 MiB of zeros in a frame that does not declare its size: only decompressing shows it.
  const auto bomb = peer({"send", key("k1"), "dev1", "-", "--bomb", "16777216"});
  ASSERT_EQ(bomb.code, 0) << bomb.output;
  EXPECT_TRUE(gw.process().wait_for(
      "dev1: downstream message refused: stage 'squeeze': zstd: decompresses to more than the "
      "limit of 1048576 bytes"))
      << gw.process().output();
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Rejected"))
      << hub.process().output();
  ASSERT_EQ(peer({"send", key("k1"), "dev1", "after the bomb"}).code, 0);
  EXPECT_TRUE(device->wait_for("message after the bomb devices/dev1/messages/devicebound/"))
      << device->output() << gw.process().output();
  EXPECT_EQ(device->wait_exit(std::chrono::seconds(20)), 0);
}

TEST_F(PipelineStages, ADictionaryTrainedElsewhereCompressesWhatTheBackEndOpensWithIt) {
  const auto dict = (keys.path() / "telemetry.dict").string();
  const std::string sample = R"({"sensor":"boiler-N","temperature":N.5,"unit":"celsius"})";
  const auto trained = run("/usr/bin/python3", {kPeer, "train", dict, sample});
  ASSERT_EQ(trained.code, 0) << trained.output;
  const auto id = trained.output.substr(trained.output.find(' ') + 1);
  GatewayUnderTest gw(
      "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge() +
      "stages:\n"
      "  - {name: squeeze, plugin: zstd, config: {min_bytes: 16, dictionary: " +
      dict +
      "}}\n"
      "listeners:\n"
      "  - {name: mqtt, adapter: mqtt, bind: '127.0.0.1:0', pipeline: [squeeze]}\n");
  const std::string text = R"({"sensor":"boiler-42","temperature":42.5,"unit":"celsius"})";
  const auto pub = run("/usr/bin/mosquitto_pub",
                       {"-h", "127.0.0.1", "-p", std::to_string(gw.port("mqtt")), "-V", "mqttv311",
                        "-i", "dev1", "-q", "1", "-t", "devices/dev1/messages/events/", "-m", text},
                       std::chrono::seconds(20));
  ASSERT_EQ(pub.code, 0) << pub.output << gw.process().output();
  const auto got =
      run("/usr/bin/python3",
          {kPeer, "receive", hub.url(), kHubHost, kServiceKey, "-", "1", "--dict", dict},
          std::chrono::seconds(30));
  ASSERT_EQ(got.code, 0) << got.output;
  EXPECT_NE(got.output.find(R"("text": ")" + json_escaped(text) + "\""), std::string::npos)
      << got.output;
  EXPECT_NE(got.output.find(R"("dict_id": )" + id.substr(0, id.find('\n'))), std::string::npos)
      << got.output << trained.output;
}

TEST_F(PipelineStages, AReloadedKeyTakesEffectOnTheOpenConnection) {
  const auto config = [this](const std::string& keys, const std::string& active) {
    return "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge() +
           "stages:\n  - {name: seal, plugin: aes-gcm, config: {keys: [" + keys +
           "], active: " + active +
           "}}\n"
           "listeners:\n  - {name: lines, adapter: line, bind: '127.0.0.1:0', pipeline: [seal]}\n";
  };
  write_file(keys.path() / "k2.key", "HxwdHhscGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=\n");
  chmod((keys.path() / "k2.key").c_str(), 0600);
  GatewayUnderTest gw(config(key("k1"), "k1"));
  LineClient device(gw.port("lines"));
  EXPECT_EQ(device.hello("dev1"), "WELCOME dev1");
  device.send_line("before the rotation");
  EXPECT_EQ(device.read_line(std::chrono::seconds(10)), "ACK 1");
  ASSERT_TRUE(gw.reload(config(key("k1") + ", " + key("k2"), "k2")));
  device.send_line("after the rotation");  // the same connection
  EXPECT_EQ(device.read_line(std::chrono::seconds(10)), "ACK 2");
  const auto first = peer({"receive", key("k1"), "1"});
  EXPECT_NE(first.output.find(R"("text": "before the rotation")"), std::string::npos)
      << first.output;
  EXPECT_NE(first.output.find(R"("key_id": "k1")"), std::string::npos) << first.output;
  const auto second =
      run("/usr/bin/python3",
          {kPeer, "receive", hub.url(), kHubHost, kServiceKey, key("k1") + "," + key("k2"), "2"},
          std::chrono::seconds(30));
  EXPECT_NE(second.output.find(R"("text": "after the rotation", "properties")"), std::string::npos)
      << second.output;
  EXPECT_NE(second.output.find(R"("key_id": "k2")"), std::string::npos) << second.output;
}

}  // namespace
}  // namespace iotgw::test
