#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "iotgw/common/log.hpp"

namespace iotgw {
namespace {

// What a Logger wrote to a temporary file, line by line.
class Captured {
 public:
  Captured() : file_(std::tmpfile(), &std::fclose) {}
  std::FILE* file() const { return file_.get(); }
  std::vector<std::string> lines() const {
    std::rewind(file_.get());
    std::vector<std::string> out;
    std::string line;
    for (int c = std::fgetc(file_.get()); c != EOF; c = std::fgetc(file_.get())) {
      if (c == '\n') {
        out.push_back(line);
        line.clear();
      } else {
        line += static_cast<char>(c);
      }
    }
    return out;
  }

 private:
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
};

TEST(Logger, FormatsParseAndPrintBack) {
  EXPECT_EQ(parse_log_format("json"), LogFormat::json);
  EXPECT_EQ(parse_log_format("text"), LogFormat::text);
  EXPECT_FALSE(parse_log_format("JSON"));
  EXPECT_EQ(to_string(LogFormat::json), "json");
}

TEST(Logger, JsonLinesCarryTimeLevelComponentMessageAndFields) {
  Captured out;
  {
    Logger log(LogLevel::info, out.file(), LogFormat::json);
    log.warn("listener mqtt", "say \"hi\"\n\x01 and \xff", {{"peer", "127.0.0.1:1"}});
    log.info("gateway", "m", {{"message", "must not replace the message"}});
    log.debug("gateway", "below the level");
  }
  const auto lines = out.lines();
  ASSERT_EQ(lines.size(), 2U);
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "warn");
  EXPECT_EQ(first["component"], "listener mqtt");
  EXPECT_EQ(first["message"], "say \"hi\"\n\x01 and \xEF\xBF\xBD");  // not UTF-8: U+FFFD
  EXPECT_EQ(first["peer"], "127.0.0.1:1");
  EXPECT_TRUE(first["time"].get<std::string>().ends_with("Z"));
  EXPECT_EQ(nlohmann::json::parse(lines[1])["message"], "m");
}

TEST(Logger, TextLinesAppendFields) {
  Captured out;
  {
    Logger log(LogLevel::info, out.file());
    log.error("bridge", "refused", {{"device", "dev1"}});
  }
  const auto lines = out.lines();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_TRUE(lines[0].ends_with(" error [bridge] refused device=dev1")) << lines[0];
}

TEST(Logger, RepeatedWarningsAreBoundedAndTheRestCountedAtShutdown) {
  Captured out;
  {
    Logger log(LogLevel::info, out.file(), LogFormat::json,
               {.lines = 5, .window = std::chrono::hours(1), .max_kinds = 10});
    for (int i = 0; i < 50; ++i) log.warn("c", "peer 10.0.0." + std::to_string(i) + " failed");
    for (int i = 0; i < 50; ++i) log.info("c", "info " + std::to_string(i));  // never limited
  }
  std::size_t warnings = 0, infos = 0;
  std::string suppressed;
  for (const auto& line : out.lines()) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("suppressed")) {
      suppressed = j["suppressed"];
      EXPECT_EQ(j["message"], "suppressed 45 similar lines");
      EXPECT_EQ(j["like"], "peer 10.0.0.0 failed");
    } else if (j["level"] == "warn") {
      ++warnings;
    } else {
      ++infos;
    }
  }
  EXPECT_EQ(warnings, 5U);
  EXPECT_EQ(infos, 50U);
  EXPECT_EQ(suppressed, "45");
}

}  // namespace
}  // namespace iotgw
