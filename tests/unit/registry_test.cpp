// The device registry iotgw-hub and the auth-sas stage share: lookups by id, kept in file order
// through adds, replacements and removals, and the same after a save and a load.
#include "iotgw/common/registry.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace {

using iotgw::hub::Device;
using iotgw::hub::Registry;

std::vector<std::string> ids(const Registry& r) {
  std::vector<std::string> out;
  for (const auto& d : r.devices()) out.push_back(d.id);
  return out;
}

TEST(Registry, PutAddsInOrderAndReplacesInPlace) {
  Registry r;
  r.put({"a", "a2V5", "", true});
  r.put({"b", "a2V5", "", true});
  r.put({"c", "a2V5", "", true});
  r.put({"b", "b3RoZXI=", "", false});
  EXPECT_EQ(ids(r), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_NE(r.device("b"), nullptr);
  EXPECT_EQ(r.device("b")->primary_key, "b3RoZXI=");
  EXPECT_FALSE(r.device("b")->enabled);
  EXPECT_EQ(r.device("d"), nullptr);
}

TEST(Registry, RemoveKeepsTheOthersFindable) {
  Registry r;
  for (const char* id : {"a", "b", "c", "d"}) r.put({id, "a2V5", "", true});
  EXPECT_TRUE(r.remove("b"));
  EXPECT_FALSE(r.remove("b"));
  EXPECT_EQ(ids(r), (std::vector<std::string>{"a", "c", "d"}));
  for (const char* id : {"a", "c", "d"}) {
    ASSERT_NE(r.device(id), nullptr) << id;
    EXPECT_EQ(r.device(id)->id, id);
  }
  EXPECT_EQ(r.device("b"), nullptr);
  r.put({"b", "a2V5", "", true});
  EXPECT_EQ(ids(r), (std::vector<std::string>{"a", "c", "d", "b"}));
}

TEST(Registry, SaveAndLoadKeepOrderAndIndex) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("iotgw-registry-" +
                     std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + ".yaml");
  Registry r = Registry::fresh();
  for (int i = 0; i < 1000; ++i) r.put({"d" + std::to_string(999 - i), "a2V5", "", true});
  r.save(file);
  const Registry loaded = Registry::load(file);
  std::filesystem::remove(file);
  EXPECT_EQ(ids(loaded), ids(r));
  ASSERT_NE(loaded.device("d0"), nullptr);
  EXPECT_EQ(loaded.device("d0")->id, "d0");
}

}  // namespace
