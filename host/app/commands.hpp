// What iotgw does for each command. Each returns the process exit code.
#pragma once

#include "app/options.hpp"
#include "iotgw/common/log.hpp"

namespace iotgw::app {

int run_check(const Options& options, Logger& log);
int run_list_plugins(const Options& options, Logger& log);
int run_describe(const Options& options, Logger& log);
int run_describe_topology();
int run_serve(const Options& options, Logger& log);

}  // namespace iotgw::app
