// Secrets read from files of their own (bridge.policy_key_file, password_file).
#include "iotgw/common/secret_file.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

namespace {

struct SecretFiles : ::testing::Test {
  fs::path dir =
      fs::temp_directory_path() /
      ("iotgw-secret-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
  fs::path write(const std::string& name, const std::string& text, fs::perms mode) {
    const auto p = dir / name;
    std::ofstream(p) << text;
    fs::permissions(p, mode);
    return p;
  }
  static std::string why(const std::variant<std::string, iotgw::SecretFileError>& r) {
    return std::holds_alternative<iotgw::SecretFileError>(r) ? std::get<1>(r).why : "";
  }
};

constexpr auto kOwner = fs::perms::owner_read | fs::perms::owner_write;

}  // namespace

TEST_F(SecretFiles, TheContentWithoutTheTrailingNewline) {
  const auto r = iotgw::read_secret_file(write("key", "c2VjcmV0\n", kOwner));
  ASSERT_TRUE(std::holds_alternative<std::string>(r)) << why(r);
  EXPECT_EQ(std::get<std::string>(r), "c2VjcmV0");
}

TEST_F(SecretFiles, GroupReadableIsFineAndALinkCountsByItsTarget) {
  // Kubernetes mounts a Secret's key as a link into ..data.
  const auto target = write("real", "k", kOwner | fs::perms::group_read);
  fs::create_symlink(target, dir / "link");
  const auto r = iotgw::read_secret_file(dir / "link");
  ASSERT_TRUE(std::holds_alternative<std::string>(r)) << why(r);
  EXPECT_EQ(std::get<std::string>(r), "k");
}

TEST_F(SecretFiles, ReadableByOthersEmptyOrMissingAreRefusedNamingTheFile) {
  const auto open = write("open", "k", kOwner | fs::perms::others_read);
  EXPECT_NE(why(iotgw::read_secret_file(open)).find(open.string() + ": readable by others"),
            std::string::npos);
  EXPECT_NE(why(iotgw::read_secret_file(write("empty", "\n", kOwner))).find("empty"),
            std::string::npos);
  EXPECT_NE(why(iotgw::read_secret_file(dir / "absent")).find((dir / "absent").string()),
            std::string::npos);
}
