// SASL PLAIN for the hub, as IoT Hub takes it: user `{deviceId}@sas.{hubName}` or
// `{policy}@sas.root.{hubName}`, password a SAS token. Debian's Proton is built without Cyrus,
// so its own server offers ANONYMOUS only; Proton's SASL plug-in interface lets the hub check
// PLAIN itself, next to ANONYMOUS (then CBS).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace iotgw::hub {

// Decides a PLAIN login. On success returns true with `result` set to the principal the
// connection's SASL user becomes (what the hub reads back at connection open); on failure
// returns false with `result` saying why.
using PlainCheck =
    std::function<bool(std::string_view user, std::string_view password, std::string& result)>;

// Installs the hub's SASL implementation for every transport made from now on in this process.
// Call once, before the container runs; the check runs on the container's thread.
void install_sasl_plain(PlainCheck check);

}  // namespace iotgw::hub
