#include <sys/resource.h>

#include <exception>
#include <iostream>

#include "app/commands.hpp"
#include "iotgw/abi.h"

#ifndef IOTGW_VERSION
#define IOTGW_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace iotgw::app;
  std::string error;
  auto options = parse_options(argc, argv, error);
  if (!options) {
    std::cerr << "iotgw: " << error << "\n\n" << usage();
    return 2;
  }
  iotgw::Logger log(options->log_level.value_or(iotgw::LogLevel::info), stderr,
                    options->log_format.value_or(iotgw::LogFormat::text));
  // One descriptor per device: take all the kernel allows this process (like nginx's
  // worker_rlimit_nofile), not the 1024 a shell hands down.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  try {
    switch (options->command) {
      case Command::help: std::cout << usage(); return 0;
      case Command::version:
        std::cout << "iotgw " IOTGW_VERSION " (plugin ABI " << IOTGW_ABI_MAJOR << "."
                  << IOTGW_ABI_MINOR << ")\n";
        return 0;
      case Command::check: return run_check(*options, log);
      case Command::list_plugins: return run_list_plugins(*options, log);
      case Command::describe: return run_describe(*options, log);
      case Command::describe_topology: return run_describe_topology();
      case Command::run: return run_serve(*options, log);
    }
  } catch (const std::exception& e) {
    log.error("gateway", std::string("fatal: ") + e.what());
    return 1;
  }
  return 0;
}
