// Where an installed iotgw finds what it ships beside itself, wherever it was installed: paths
// are taken relative to the running binary, as CMake's install lays them out.
#pragma once

#include <filesystem>

namespace iotgw::config {

// The shipped plugins: <prefix>/<libdir>/iotgw/plugins for <prefix>/<bindir>/iotgw. Empty when
// the running binary cannot be found.
std::filesystem::path installed_plugins_dir();

}  // namespace iotgw::config
