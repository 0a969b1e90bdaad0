// The iotgw command line.
#pragma once

#include <optional>
#include <string>

#include "iotgw/common/log.hpp"

namespace iotgw::app {

enum class Command { run, check, list_plugins, describe, describe_topology, version, help };

struct Options {
  Command command = Command::run;
  std::string config_file;
  std::string plugins_dir;  // overrides gateway.plugins_dir when set
  std::string describe;     // plugin name for --describe
  std::string pid_file;     // --pid-file: where the serving process writes its id
  std::optional<LogLevel> log_level;
  std::optional<LogFormat> log_format;  // overrides gateway.log_format when set
};

// Returns the options, or sets error to what is wrong with the arguments.
std::optional<Options> parse_options(int argc, char** argv, std::string& error);

const char* usage();

}  // namespace iotgw::app
