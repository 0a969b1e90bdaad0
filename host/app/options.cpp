#include "app/options.hpp"

#include <string_view>

namespace iotgw::app {

const char* usage() {
  return "usage: iotgw --config FILE [--check] [--plugins-dir DIR] [--log-level LEVEL]\n"
         "             [--log-format FORMAT] [--pid-file FILE]\n"
         "       iotgw --list-plugins [--plugins-dir DIR | --config FILE]\n"
         "       iotgw --describe PLUGIN [--plugins-dir DIR | --config FILE]\n"
         "       iotgw --describe-topology\n"
         "       iotgw --version | --help\n"
         "\n"
         "  --config FILE       the YAML topology to serve\n"
         "  --check             validate the topology, its plugins and their configs; exit 0 if\n"
         "                      all is well, 2 with every error found\n"
         "  --plugins-dir DIR   where plugins are (overrides gateway.plugins_dir; without it\n"
         "                      or --config, the plugins installed with iotgw)\n"
         "  --list-plugins      name, kind, version, ABI and path of each plugin\n"
         "  --describe PLUGIN   the config keys a plugin accepts: type, default, doc\n"
         "  --describe-topology the keys of a topology file, by section: type, default, doc\n"
         "  --log-level LEVEL   trace, debug, info, warn or error (overrides gateway.log_level)\n"
         "  --pid-file FILE     write the process id there once serving (removed at exit), for\n"
         "                      kill -HUP $(cat FILE); refuses to start while another iotgw\n"
         "                      named in it runs\n"
         "  --log-format FORMAT text, or json: an object a line (overrides gateway.log_format)\n"
         "\n"
         "Signals: SIGHUP reloads the topology; SIGTERM and SIGINT drain and exit 0.\n";
}

std::optional<Options> parse_options(int argc, char** argv, std::string& error) {
  Options o;
  bool have_command = false;
  auto set_command = [&](Command c) {
    if (have_command && o.command != c) {
      error =
          "choose one of --check, --list-plugins, --describe, --describe-topology, --version, "
          "--help";
      return false;
    }
    have_command = true;
    o.command = c;
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        error = std::string(name) + " needs a value";
        return nullptr;
      }
      return argv[++i];
    };
    if (arg == "--config" || arg == "-c") {
      const char* v = value("--config");
      if (v == nullptr) return std::nullopt;
      o.config_file = v;
    } else if (arg == "--plugins-dir") {
      const char* v = value("--plugins-dir");
      if (v == nullptr) return std::nullopt;
      o.plugins_dir = v;
    } else if (arg == "--pid-file") {
      const char* v = value("--pid-file");
      if (v == nullptr) return std::nullopt;
      o.pid_file = v;
    } else if (arg == "--log-level") {
      const char* v = value("--log-level");
      if (v == nullptr) return std::nullopt;
      o.log_level = parse_log_level(v);
      if (!o.log_level) {
        error =
            std::string("--log-level: '") + v + "' is not one of trace, debug, info, warn, error";
        return std::nullopt;
      }
    } else if (arg == "--log-format") {
      const char* v = value("--log-format");
      if (v == nullptr) return std::nullopt;
      o.log_format = parse_log_format(v);
      if (!o.log_format) {
        error = std::string("--log-format: '") + v + "' is not one of text, json";
        return std::nullopt;
      }
    } else if (arg == "--check") {
      if (!set_command(Command::check)) return std::nullopt;
    } else if (arg == "--list-plugins") {
      if (!set_command(Command::list_plugins)) return std::nullopt;
    } else if (arg == "--describe") {
      const char* v = value("--describe");
      if (v == nullptr || !set_command(Command::describe)) return std::nullopt;
      o.describe = v;
    } else if (arg == "--describe-topology") {
      if (!set_command(Command::describe_topology)) return std::nullopt;
    } else if (arg == "--version" || arg == "-V") {
      if (!set_command(Command::version)) return std::nullopt;
    } else if (arg == "--help" || arg == "-h") {
      if (!set_command(Command::help)) return std::nullopt;
    } else {
      error = "unknown argument '" + std::string(arg) + "'";
      return std::nullopt;
    }
  }
  const bool needs_config = o.command == Command::run || o.command == Command::check;
  if (needs_config && o.config_file.empty()) {
    error = "--config FILE is required";
    return std::nullopt;
  }
  return o;
}

}  // namespace iotgw::app
