// A plugin's config map (sdk iotgw/config_map.hpp), through the mqtt adapter and the real iotgw:
// a value out of its key's range or choices is refused by the SDK and reported at that key, and
// --describe shows each key's rule.
#include <gtest/gtest.h>

#include "gateway_fixture.hpp"

namespace iotgw::test {
namespace {

// --check of one mqtt listener whose options end with `line` (written on line 8, column 7).
RunResult check_mqtt_option(const TempDir& dir, const std::string& line) {
  return check_topology(dir,
                        "gateway: {plugins_dir: plugins}\n"
                        "listeners:\n"
                        "  - name: m\n"
                        "    adapter: mqtt\n"
                        "    bind: ':0'\n"
                        "    options:\n"
                        "      hostname: hub.example\n"
                        "      " +
                            line + "\n");
}

TEST(ConfigMap, AValueBreakingItsKeysRuleIsReportedAtThatKey) {
  struct Case {
    const char* line;
    const char* refusal;
  };
  for (const Case c : {
           Case{"max_inflight: 0", "'max_inflight' must be from 1 to 65535, not '0'"},
           Case{"other_topics: mapped", "'other_topics' must be one of refuse, map, not 'mapped'"},
           // No declared range: its uint16_t member bounds it, so nothing is cut.
           Case{"topic_alias_maximum: 70000",
                "'topic_alias_maximum' must be from 0 to 65535, not '70000'"},
       }) {
    TempDir dir;
    auto r = check_mqtt_option(dir, c.line);
    EXPECT_EQ(r.code, 2) << c.line;
    EXPECT_NE(
        r.output.find((dir / "gateway.yaml").string() +
                      ":8:7: listener 'm': plugin 'mqtt' refused the configuration: " + c.refusal),
        std::string::npos)
        << r.output;
  }
}

TEST(ConfigMap, ValuesWithinTheirRulesCheckClean) {
  for (const char* line : {"max_inflight: 65535", "other_topics: map", "max_keep_alive: 1s"}) {
    TempDir dir;
    auto r = check_mqtt_option(dir, line);
    EXPECT_EQ(r.code, 0) << line << "\n" << r.output;
  }
}

TEST(ConfigMap, DescribeShowsEachKeysRangeOrChoices) {
  auto r = run(kIotgw, {"--describe", "mqtt", "--plugins-dir", kPluginsDir.string()});
  EXPECT_EQ(r.code, 0) << r.output;
  for (const std::string shown :
       {"  max_inflight (int, default '16')\n      unacknowledged QoS 1 publishes per connection: "
        "MQTT 3.1.1 reading pauses there; MQTT 5 clients are told it as Receive Maximum (from 1 "
        "to 65535)\n",
        "such filters) (one of refuse, map)\n",
        "(IoT Hub's 256 KB plus headers); a larger one "
        "closes (at least 64 bytes)\n",
        "  topic_alias_maximum (int, default '10')\n      MQTT 5: topic aliases a client may set "
        "on its connection (0: none) (from 0 to 65535)\n",
        "when the client asks for none (at least 1s)\n"}) {
    EXPECT_NE(r.output.find(shown), std::string::npos) << shown << "\n---\n" << r.output;
  }
}

}  // namespace
}  // namespace iotgw::test
