// MQTT 3.1.1 topic filters (section 4.7): `+` stands for one whole level, `#` for the rest,
// including none, and only as the last level. Topics starting with `$` match no filter that
// starts with a wildcard.
#pragma once

#include <string_view>

namespace iotgw::mqtt {

// False for a filter whose wildcards are not whole levels, or a `#` before the last level.
bool valid_filter(std::string_view filter);

// Whether `topic` (no wildcards) is one of the topics a valid `filter` names.
bool filter_matches(std::string_view filter, std::string_view topic);

}  // namespace iotgw::mqtt
