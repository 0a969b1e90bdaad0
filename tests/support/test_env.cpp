#include "test_env.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace iotgw::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string templ = (fs::temp_directory_path() / "iotgw-test-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  // Write a new file and rename it over the old: a reader never sees half a file.
  const fs::path tmp = file.string() + ".writing";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  fs::rename(tmp, file);
}

void write_secret_file(const fs::path& file, const std::string& text) {
  write_file(file, text);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
}

bool port_free(int port, int type) {
  const int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::uint16_t free_port(int type) {
  std::mt19937 pick(std::random_device{}());
  std::uniform_int_distribution<int> port(10000, 19999);
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int p = port(pick);
    if (port_free(p, type)) return static_cast<std::uint16_t>(p);
  }
  throw std::runtime_error("no free port in 10000-19999");
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void stock_plugins(const fs::path& dir, const fs::path& overlay) {
  fs::create_directories(dir);
  for (const char* shipped :
       {"iotgw-line.so", "iotgw-mqtt.so", "iotgw-coap.so", "iotgw-zstd.so", "iotgw-aes-gcm.so",
        "iotgw-auth-sas.so", "iotgw-auth-file.so", "iotgw-map.so"}) {
    fs::copy_file(kPluginsDir / shipped, dir / shipped, fs::copy_options::overwrite_existing);
  }
  fs::copy_file(kTestPlugins / "good" / "iotgw-tag.so", dir / "iotgw-tag.so",
                fs::copy_options::overwrite_existing);
  if (overlay.empty()) return;
  for (const auto& entry : fs::directory_iterator(overlay)) {
    fs::copy_file(entry.path(), dir / entry.path().filename(),
                  fs::copy_options::overwrite_existing);
  }
}

}  // namespace iotgw::test
