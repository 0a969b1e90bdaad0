// Settling a delivery as rejected with an error condition, which Proton C++ 0.37 cannot say:
// the C API under it can.
#pragma once

#include <string>

#include <proton/delivery.hpp>

namespace iotgw::hub {

void reject_with(proton::delivery& d, const std::string& condition, const std::string& description);

}  // namespace iotgw::hub
