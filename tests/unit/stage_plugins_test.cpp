// The zstd and aes-gcm stages as the host runs them: loaded from their .so files, configured
// as a topology would, and handed messages through a real pipeline.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <zstd.h>

#include "plugins/catalog.hpp"
#include "plugins/plugin_config.hpp"
#include "runtime/pipeline.hpp"
#include "runtime/plugin_instance.hpp"
#include "test_env.hpp"

namespace iotgw::test {
namespace {

class StagePlugins : public testing::Test {
 protected:
  StagePlugins() {
    std::vector<plugins::LoadError> errors;
    catalog = plugins::Catalog::scan(kPluginsDir, copies, errors);
  }

  // One stage from its .so, as `pipeline: [it]`; nullptr with `error` when config refuses.
  // The stage refuses this config, saying `why` somewhere in its error.
  void expect_refused(const char* plugin, const std::string& yaml, const std::string& why) {
    std::string error;
    EXPECT_FALSE(pipeline(plugin, yaml, error)) << yaml;
    EXPECT_NE(error.find(why), std::string::npos) << error;
  }
  std::shared_ptr<runtime::Pipeline> pipeline(const char* plugin, const std::string& yaml,
                                              std::string& error) {
    auto p = catalog.find(plugin);
    if (!p) {
      error = std::string("no plugin ") + plugin;
      return nullptr;
    }
    config::Diagnostics diags;
    auto cfg = plugins::PluginConfig::resolve(p->keys(), {YAML::Load(yaml), {}}, "s", "s", diags);
    if (!cfg) {
      error = diags.str();
      return nullptr;
    }
    auto inst = runtime::StageInstance::create(p, *p->descriptor().stage, *cfg, "s", log, error);
    if (!inst) return nullptr;
    return std::make_shared<runtime::Pipeline>(std::vector<runtime::StageRef>{},
                                               std::vector<runtime::StageRef>{{"s", inst}});
  }

  static iotgw_msg message(const std::string& body, const std::string& device = "dev1") {
    iotgw_msg m;
    m.body.assign(body.begin(), body.end());
    m.device_id = device;
    return m;
  }
  static std::string body(const iotgw_msg& m) { return {m.body.begin(), m.body.end()}; }

  Logger log{LogLevel::error};
  plugins::PrivateCopies copies;
  plugins::Catalog catalog;
  TempDir dir;
};

TEST_F(StagePlugins, ZstdRoundTripsAndLeavesSmallPayloadsAlone) {
  std::string error;
  auto p = pipeline("zstd", "{min_bytes: 100, level: 3}", error);
  ASSERT_TRUE(p) << error;
  const std::string text(5000, 'a');
  auto m = message(text);
  ASSERT_EQ(p->upstream(m).verdict, IOTGW_CONTINUE);
  EXPECT_LT(m.body.size(), 100U);
  ASSERT_TRUE(m.scope(IOTGW_PROP_SYSTEM).get("content-encoding"));
  EXPECT_EQ(*m.scope(IOTGW_PROP_SYSTEM).get("content-encoding"), "zstd");
  ASSERT_EQ(p->downstream(m).verdict, IOTGW_CONTINUE);
  EXPECT_EQ(body(m), text);
  EXPECT_FALSE(m.scope(IOTGW_PROP_SYSTEM).get("content-encoding"));
  auto small = message("tiny");
  ASSERT_EQ(p->upstream(small).verdict, IOTGW_CONTINUE);
  EXPECT_EQ(body(small), "tiny");
  EXPECT_FALSE(small.scope(IOTGW_PROP_SYSTEM).get("content-encoding"));
}

TEST_F(StagePlugins, ZstdRefusesABombAndGarbage) {
  std::string error;
  auto p = pipeline("zstd", "{max_decompressed_bytes: 64KB}", error);
  ASSERT_TRUE(p) << error;
  // 100 MB of zeros in a few kilobytes, with its size in the frame header...
  const std::string zeros(100 * 1024 * 1024, '\0');
  std::string bomb(ZSTD_compressBound(zeros.size()), '\0');
  bomb.resize(ZSTD_compress(bomb.data(), bomb.size(), zeros.data(), zeros.size(), 19));
  auto m = message(bomb);
  m.scope(IOTGW_PROP_SYSTEM).set("content-encoding", "zstd");
  auto v = p->downstream(m);
  EXPECT_EQ(v.verdict, IOTGW_REJECT);
  EXPECT_EQ(v.reason, "stage 's': zstd: decompresses to 104857600 bytes, over the limit of 65536");
  // ...and one that hides its size: a streamed frame.
  std::string hidden(ZSTD_compressBound(zeros.size()), '\0');
  {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
    ZSTD_inBuffer in{zeros.data(), zeros.size(), 0};
    ZSTD_outBuffer out{hidden.data(), hidden.size(), 0};
    while (ZSTD_compressStream2(c, &out, &in, ZSTD_e_end) != 0) {
    }
    hidden.resize(out.pos);
    ZSTD_freeCCtx(c);
  }
  auto h = message(hidden);
  h.scope(IOTGW_PROP_SYSTEM).set("content-encoding", "zstd");
  v = p->downstream(h);
  EXPECT_EQ(v.verdict, IOTGW_REJECT);
  EXPECT_EQ(v.reason, "stage 's': zstd: decompresses to more than the limit of 65536 bytes");
  auto g = message("not zstd at all");
  g.scope(IOTGW_PROP_SYSTEM).set("content-encoding", "zstd");
  EXPECT_EQ(p->downstream(g).reason, "stage 's': zstd: not a zstd frame");
}

TEST_F(StagePlugins, ZstdConfigIsChecked) {
  std::string error;
  expect_refused("zstd", "{level: 40}", "level must be from 1 to 22");
  expect_refused("zstd", "{dictionary: /no/such/dict}", "cannot read dictionary /no/such/dict");
}

TEST_F(StagePlugins, AesGcmRotatesKeysAndRefusesWhatDoesNotVerify) {
  write_file(dir / "k1.key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
  write_file(dir / "k2.key", "HxwdHhscGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=\n");
  chmod((dir / "k1.key").c_str(), 0600);
  chmod((dir / "k2.key").c_str(), 0600);
  const auto k1 = (dir / "k1.key").string(), k2 = (dir / "k2.key").string();
  std::string error;
  auto old_key = pipeline("aes-gcm", "{keys: [" + k1 + "]}", error);
  auto rotated = pipeline("aes-gcm", "{keys: [" + k1 + ", " + k2 + "], active: k2}", error);
  auto only_new = pipeline("aes-gcm", "{keys: [" + k2 + "]}", error);
  ASSERT_TRUE(old_key && rotated && only_new) << error;
  auto m = message("secret reading");
  ASSERT_EQ(old_key->upstream(m).verdict, IOTGW_CONTINUE);
  EXPECT_EQ(*m.scope(IOTGW_PROP_APPLICATION).get("iotgw-encryption"), "aes-256-gcm/1");
  EXPECT_EQ(body(m).find("secret"), std::string::npos);
  auto copy = m;
  ASSERT_EQ(rotated->downstream(m).verdict, IOTGW_CONTINUE);  // k1 still opens
  EXPECT_EQ(body(m), "secret reading");
  auto v = only_new->downstream(copy);
  EXPECT_EQ(v.verdict, IOTGW_REJECT);
  EXPECT_EQ(v.reason, "stage 's': aes-gcm: unknown key id 'k1'");
  auto moved = message("for dev1");
  ASSERT_EQ(rotated->upstream(moved).verdict, IOTGW_CONTINUE);
  moved.device_id = "dev2";
  v = rotated->downstream(moved);
  EXPECT_EQ(v.verdict, IOTGW_REJECT);
  EXPECT_NE(v.reason.find("does not verify"), std::string::npos) << v.reason;
  auto plain = message("never encrypted");
  EXPECT_EQ(rotated->downstream(plain).reason,
            "stage 's': aes-gcm: the message is not encrypted (no iotgw-encryption property)");
}

TEST_F(StagePlugins, AesGcmRefusesKeyFilesOthersCanRead) {
  write_file(dir / "open.key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
  chmod((dir / "open.key").c_str(), 0644);
  std::string error;
  expect_refused("aes-gcm", "{keys: [" + (dir / "open.key").string() + "]}",
                 "is open to others (mode 0644): chmod 600 it");
  EXPECT_EQ(error.find("AAECAw"), std::string::npos);  // key bytes never appear
  write_file(dir / "short.key", "c2hvcnQ=\n");
  chmod((dir / "short.key").c_str(), 0600);
  expect_refused("aes-gcm", "{keys: [" + (dir / "short.key").string() + "]}",
                 "does not hold 32 bytes");
}

TEST_F(StagePlugins, MapClaimsATopicAndShapesTheMessage) {
  std::string error;
  auto p = pipeline("map",
                    "{topic: 'sensors/{building}/{room}', properties: ['source=gw-{building}'], "
                    "rename: [t=temperature], remove: [debug], content_type: application/json, "
                    "to: '/exchange/amq.topic/{building}.{room}'}",
                    error);
  ASSERT_TRUE(p) << error;
  auto m = message("{}");
  m.scope(IOTGW_PROP_ANNOTATION).set("mqtt-topic", "sensors/b7/lobby");
  m.scope(IOTGW_PROP_ANNOTATION).set("iotgw-unmapped", "true");
  m.scope(IOTGW_PROP_APPLICATION).set("t", "21");
  m.scope(IOTGW_PROP_APPLICATION).set("debug", "1");
  ASSERT_EQ(p->upstream(m).verdict, IOTGW_CONTINUE);
  const auto& app = m.scope(IOTGW_PROP_APPLICATION);
  EXPECT_EQ(*app.get("building"), "b7");
  EXPECT_EQ(*app.get("room"), "lobby");
  EXPECT_EQ(*app.get("source"), "gw-b7");
  EXPECT_EQ(*app.get("temperature"), "21");
  EXPECT_FALSE(app.get("t"));
  EXPECT_FALSE(app.get("debug"));
  EXPECT_EQ(*m.scope(IOTGW_PROP_SYSTEM).get("content-type"), "application/json");
  EXPECT_EQ(*m.scope(IOTGW_PROP_SYSTEM).get("to"), "/exchange/amq.topic/b7.lobby");
  EXPECT_FALSE(m.scope(IOTGW_PROP_ANNOTATION).get("iotgw-unmapped"));  // claimed
  auto other = message("{}");
  other.scope(IOTGW_PROP_ANNOTATION).set("mqtt-topic", "sensors/b7");  // one segment short
  other.scope(IOTGW_PROP_ANNOTATION).set("iotgw-unmapped", "true");
  ASSERT_EQ(p->upstream(other).verdict, IOTGW_CONTINUE);
  EXPECT_TRUE(other.scope(IOTGW_PROP_ANNOTATION).get("iotgw-unmapped"));  // left for another
}

TEST_F(StagePlugins, MapTemplatesAreCheckedWhenBuiltAndDeviceIdsMustAgree) {
  std::string error;
  expect_refused("map", "{topic: 'a/{*}/b'}", "{*} must be the last segment");
  expect_refused("map", "{topic: 'a/{room', properties: [x=y]}", "is not {name}");
  expect_refused("map", "{topic: 'a/{room}', to: '/q/{floor}'}", "no variable {floor}");
  auto p = pipeline("map", "{topic: 'devices/{deviceId}/messages/events/{*}'}", error);
  ASSERT_TRUE(p) << error;
  auto m = message("x", "dev1");
  m.scope(IOTGW_PROP_ANNOTATION).set("mqtt-topic", "devices/dev2/messages/events/");
  const auto v = p->upstream(m);
  EXPECT_EQ(v.verdict, IOTGW_REJECT);
  EXPECT_EQ(v.reason, "stage 's': map: topic 'devices/dev2/messages/events/' names device 'dev2'");
}

TEST_F(StagePlugins, MapGivesC2dMessagesATopicFromTheirProperties) {
  std::string error;
  expect_refused("map", "{c2d_topic: 'devices/{deviceId}/x'}", "under IoT Hub's devices/ or $");
  expect_refused("map", "{c2d_topic: 'cmd/+/{x}'}", "has MQTT wildcards");
  auto p = pipeline("map", "{c2d_topic: 'commands/{deviceId}/{command}'}", error);
  ASSERT_TRUE(p) << error;
  auto m = message("reboot now", "dev1");
  m.scope(IOTGW_PROP_APPLICATION).set("command", "reboot");
  ASSERT_EQ(p->downstream(m).verdict, IOTGW_CONTINUE);
  EXPECT_EQ(*m.scope(IOTGW_PROP_ANNOTATION).get("mqtt-topic"), "commands/dev1/reboot");

  auto plain = message("no command", "dev1");  // left for the devicebound topic
  ASSERT_EQ(p->downstream(plain).verdict, IOTGW_CONTINUE);
  EXPECT_FALSE(plain.scope(IOTGW_PROP_ANNOTATION).get("mqtt-topic"));

  auto sneaky = message("x", "dev1");
  sneaky.scope(IOTGW_PROP_APPLICATION).set("command", "a/#");
  const auto v = p->downstream(sneaky);
  EXPECT_EQ(v.verdict, IOTGW_REJECT);
  EXPECT_EQ(v.reason,
            "stage 's': map: C2D property 'command' = 'a/#' cannot be one topic level of "
            "commands/{deviceId}/{command}");
}

}  // namespace
}  // namespace iotgw::test
