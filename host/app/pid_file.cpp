#include "app/pid_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <system_error>
#include <utility>

#include "iotgw/common/units.hpp"

namespace iotgw::app {

namespace fs = std::filesystem;

namespace {

std::optional<pid_t> read_pid(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) return std::nullopt;
  auto pid = parse_int(text);
  if (!pid || *pid <= 0) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

// Whether pid is a running program whose executable is named like ours: another gateway, not an
// unrelated process that reused a stale id.
bool is_live_iotgw(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return true;  // cannot tell: a live process is safer left alone
  return exe.filename() == self.filename();
}

}  // namespace

std::optional<PidFile> PidFile::claim(const fs::path& path, std::string& error) {
  if (auto pid = read_pid(path); pid && *pid != ::getpid() && is_live_iotgw(*pid)) {
    error = "pid file " + path.string() + " names iotgw process " + std::to_string(*pid) +
            ", which is running: give each gateway its own --pid-file";
    return std::nullopt;
  }
  return PidFile(path);
}

PidFile::PidFile(PidFile&& other) noexcept
    : path_(std::move(other.path_)), written_(std::exchange(other.written_, false)) {}

PidFile::~PidFile() {
  if (!written_ || read_pid(path_) != ::getpid()) return;
  std::error_code ec;
  fs::remove(path_, ec);
}

bool PidFile::write(std::string& error) {
  const fs::path tmp = path_.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ::getpid() << "\n";
    if (!out.flush()) {
      error = "cannot write pid file " + tmp.string() + ": " + std::strerror(errno);
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path_, ec);
  if (ec) {
    error = "cannot write pid file " + path_.string() + ": " + ec.message();
    fs::remove(tmp, ec);
    return false;
  }
  written_ = true;
  return true;
}

}  // namespace iotgw::app
