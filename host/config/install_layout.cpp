#include "config/install_layout.hpp"

#include <system_error>

namespace iotgw::config {

std::filesystem::path installed_plugins_dir() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  // IOTGW_PLUGINS_FROM_BINDIR: the plugins' install folder relative to the binaries', set by
  // host/CMakeLists.txt from GNUInstallDirs, so a relocated prefix (a .deb, a tarball, a
  // container) still finds its plugins.
  return (self.parent_path() / IOTGW_PLUGINS_FROM_BINDIR).lexically_normal();
}

}  // namespace iotgw::config
