// The plugin loader against real .so files: good ones load (including the clang-built C one),
// each kind of bad one is refused with its path and reason, and nothing crashes the host.
#include <gtest/gtest.h>

#include <filesystem>

#include "iotgw/common/log.hpp"
#include "plugins/catalog.hpp"
#include "plugins/plugin_config.hpp"
#include "runtime/message.hpp"
#include "runtime/plugin_instance.hpp"
#include "test_env.hpp"

namespace iotgw {
namespace {

namespace fs = std::filesystem;
using test::abi;
using test::kTestPlugins;
using test::TempDir;

std::vector<plugins::LoadError> scan_errors(const fs::path& dir) {
  plugins::PrivateCopies copies;
  std::vector<plugins::LoadError> errors;
  auto catalog = plugins::Catalog::scan(dir, copies, errors);
  EXPECT_TRUE(catalog.all().empty());
  return errors;
}

std::string only_error(const std::string& bad_case) {
  const auto dir = kTestPlugins / "bad" / bad_case;
  auto errors = scan_errors(dir);
  if (errors.size() != 1) return "expected one error, got " + std::to_string(errors.size());
  EXPECT_EQ(errors[0].path, dir / "iotgw-bad.so");
  return errors[0].str();
}

TEST(PluginLoader, LoadsTheClangBuiltCPlugin) {
  plugins::PrivateCopies copies;
  std::vector<plugins::LoadError> errors;
  auto catalog = plugins::Catalog::scan(kTestPlugins / "good", copies, errors);
  ASSERT_TRUE(errors.empty()) << errors[0].str();
  auto tag = catalog.find("tag");
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->kind(), IOTGW_KIND_STAGE);
  EXPECT_EQ(std::string(tag->descriptor().version), "1.0.1");
  // Three more since ABI 1.3 (transport, path, header), and peer_prefix.
  EXPECT_EQ(tag->keys().size(), 10U);
  EXPECT_EQ(tag->hash().size(), 64U);
}

TEST(PluginLoader, RefusesAFileThatIsNotASharedObject) {
  TempDir dir;
  test::write_file(dir / "iotgw-notes.so", "these are notes, not code\n");
  auto errors = scan_errors(dir.path());
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].str(), "plugin " + (dir / "iotgw-notes.so").string() +
                                 ": not a shared object (no ELF header)");
}

TEST(PluginLoader, RefusesALibraryWithoutTheEntryPoint) {
  EXPECT_EQ(only_error("no_entry"), "plugin " +
                                        (kTestPlugins / "bad/no_entry/iotgw-bad.so").string() +
                                        ": no entry point 'iotgw_plugin_entry' (C++: end the "
                                        "plugin with IOTGW_ADAPTER_PLUGIN(Class) or "
                                        "IOTGW_STAGE_PLUGIN(Class); C: define IOTGW_EXPORT const "
                                        "iotgw_plugin_descriptor* iotgw_plugin_entry(void), with "
                                        "IOTGW_EXPORT: the rest is hidden)");
}

TEST(PluginLoader, RefusesAnotherAbiMajorSayingBoth) {
  EXPECT_EQ(only_error("wrong_major"),
            "plugin " + (kTestPlugins / "bad/wrong_major/iotgw-bad.so").string() + ": ABI " +
                abi() + " expected (same major, minor at most " + std::to_string(IOTGW_ABI_MINOR) +
                "), plugin built for 2.0");
}

TEST(PluginLoader, RefusesANewerAbiMinor) {
  EXPECT_EQ(only_error("newer_minor"),
            "plugin " + (kTestPlugins / "bad/newer_minor/iotgw-bad.so").string() + ": ABI " +
                abi() + " expected (same major, minor at most " + std::to_string(IOTGW_ABI_MINOR) +
                "), plugin built for 1." + std::to_string(IOTGW_ABI_MINOR + 1));
}

TEST(PluginLoader, ReportsTheDynamicLoadersReason) {
  const std::string e = only_error("undefined_symbol");
  EXPECT_NE(e.find("cannot load: "), std::string::npos) << e;
  EXPECT_NE(e.find("undefined symbol: iotgw_symbol_nobody_defines"), std::string::npos) << e;
}

TEST(PluginLoader, RefusesANullDescriptor) {
  EXPECT_NE(only_error("null_descriptor").find(": entry point returned no descriptor"),
            std::string::npos);
}

TEST(PluginLoader, RefusesAStageWithoutItsTable) {
  EXPECT_NE(only_error("missing_vtable").find(": declares kind stage but has no stage table"),
            std::string::npos);
}

TEST(PluginLoader, RefusesADuplicateNameAndKeepsTheFirst) {
  TempDir dir;
  fs::copy_file(kTestPlugins / "good/iotgw-tag.so", dir / "a-tag.so");
  fs::copy_file(kTestPlugins / "good/iotgw-tag.so", dir / "b-tag.so");
  plugins::PrivateCopies copies;
  std::vector<plugins::LoadError> errors;
  auto catalog = plugins::Catalog::scan(dir.path(), copies, errors);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].str(), "plugin " + (dir / "b-tag.so").string() +
                                 ": duplicate plugin name 'tag' (also in " +
                                 (dir / "a-tag.so").string() + ")");
  ASSERT_EQ(catalog.all().size(), 1U);
  EXPECT_EQ(catalog.all()[0]->path(), dir / "a-tag.so");
}

TEST(PluginLoader, ReplacedFileLoadsNewCodeFromANewPrivateCopy) {
  TempDir dir;
  plugins::PrivateCopies copies;
  fs::copy_file(kTestPlugins / "good/iotgw-tag.so", dir / "iotgw-tag.so");
  std::vector<plugins::LoadError> errors;
  auto first = plugins::Catalog::scan(dir.path(), copies, errors);
  fs::copy_file(kTestPlugins / "v2/iotgw-tag.so", dir / "iotgw-tag.so",
                fs::copy_options::overwrite_existing);
  auto second = plugins::Catalog::scan(dir.path(), copies, errors);
  ASSERT_TRUE(errors.empty());
  // Both generations are loaded at once, each running its own code.
  EXPECT_EQ(std::string(first.find("tag")->descriptor().version), "1.0.1");
  EXPECT_EQ(std::string(second.find("tag")->descriptor().version), "1.0.2");
  EXPECT_NE(first.find("tag")->hash(), second.find("tag")->hash());
}

TEST(PluginLoader, LibraryOutlivesTheCatalogWhileAnInstanceLives) {
  Logger quiet(LogLevel::error);
  std::shared_ptr<runtime::StageInstance> stage;
  {
    plugins::PrivateCopies copies;
    std::vector<plugins::LoadError> errors;
    auto catalog = plugins::Catalog::scan(kTestPlugins / "good", copies, errors);
    auto tag = catalog.find("tag");
    YAML::Node node = YAML::Load("{mode: upper}");
    config::Diagnostics diags;
    auto cfg = plugins::PluginConfig::resolve(tag->keys(), {node, {}}, "s", "stage 's'", diags);
    ASSERT_TRUE(cfg) << diags.str();
    std::string error;
    stage = runtime::StageInstance::create(tag, *tag->descriptor().stage, *cfg, "stage s", quiet,
                                           error);
    ASSERT_TRUE(stage) << error;
  }  // catalog, private folder and config are gone; the instance still runs plugin code
  iotgw_msg msg;
  const std::string body = "hello";
  msg.body.assign(body.begin(), body.end());
  iotgw_error err{};
  ASSERT_EQ(stage->vtable().upstream(stage->handle(), &msg, &err), IOTGW_CONTINUE);
  EXPECT_EQ(std::string(msg.body.begin(), msg.body.end()), "HELLO");
  EXPECT_EQ(*msg.scope(IOTGW_PROP_APPLICATION).get("tag-build"), "1");
}

}  // namespace
}  // namespace iotgw
