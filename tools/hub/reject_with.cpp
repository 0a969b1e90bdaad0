#include "reject_with.hpp"

#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/disposition.h>

namespace iotgw::hub {

namespace {
// pn_object() is protected in the C++ wrapper; a subclass may hand it out.
struct RawDelivery : proton::delivery {
  explicit RawDelivery(const proton::delivery& d) : proton::delivery(d) {}
  pn_delivery_t* raw() const { return pn_object(); }
};
}  // namespace

void reject_with(proton::delivery& d, const std::string& condition,
                 const std::string& description) {
  pn_delivery_t* p = RawDelivery(d).raw();
  pn_condition_t* c = pn_disposition_condition(pn_delivery_local(p));
  pn_condition_set_name(c, condition.c_str());
  pn_condition_set_description(c, description.c_str());
  pn_delivery_update(p, PN_REJECTED);
  pn_delivery_settle(p);
}

}  // namespace iotgw::hub
