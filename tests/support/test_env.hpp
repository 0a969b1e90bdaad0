// Paths the build hands the tests, and small helpers every test file uses.
#pragma once

#include "iotgw/abi.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace iotgw::test {

inline const std::filesystem::path kIotgw = IOTGW_TEST_BINARY;        // the real iotgw
inline const std::filesystem::path kHub = IOTGW_TEST_HUB;             // the real iotgw-hub
inline const std::filesystem::path kBench = IOTGW_TEST_BENCH;         // the MQTT load generator
inline const std::filesystem::path kPluginsDir = IOTGW_TEST_PLUGINS;  // plugins we ship
inline const std::filesystem::path kTestPlugins = IOTGW_TEST_PLUGINS_TEST;  // test-only plugins
inline const std::filesystem::path kSourceDir = IOTGW_TEST_SOURCE_DIR;
inline const std::filesystem::path kBuildDir = IOTGW_TEST_BUILD_DIR;
inline const std::filesystem::path kLogDir = IOTGW_TEST_LOG_DIR;  // every run's logs, kept

// A fresh folder, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& file, const std::string& text);
// The same, readable by its owner only: keys, registries, credentials (iotgw refuses others).
void write_secret_file(const std::filesystem::path& file, const std::string& text);
std::string read_file(const std::filesystem::path& file);

// A plugins folder holding copies of the shipped plugins and the clang-built tag stage, then
// whatever `overlay` holds (older builds of the same plugins, say) in their place.
void stock_plugins(const std::filesystem::path& dir, const std::filesystem::path& overlay = {});

// Whether 127.0.0.1:port can be bound now, for `type` (SOCK_STREAM or SOCK_DGRAM).
bool port_free(int port, int type);
// A port for a program that must be told its port (Mosquitto, coap-server, a client's -bind): from
// below the kernel's ephemeral range, since a port found by binding to 0 can go to any outgoing
// connection before the program binds it. RabbitMQ's fixture takes 20000 and up; these stay under.
std::uint16_t free_port(int type);

// The host's plugin ABI as it prints it: "MAJOR.MINOR".
inline std::string abi() {
  return std::to_string(IOTGW_ABI_MAJOR) + "." + std::to_string(IOTGW_ABI_MINOR);
}

}  // namespace iotgw::test
