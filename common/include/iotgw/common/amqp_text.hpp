// Reading values an AMQP peer sends. The text of an AMQP value as IoT Hub peers mean it: strings
// and symbols as they are, binary as its bytes, nothing as empty. Header-only, so only code that
// speaks AMQP needs Proton's headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <proton/binary.hpp>
#include <proton/symbol.hpp>
#include <proton/value.hpp>

namespace iotgw {

inline std::string amqp_text(const proton::value& v) {
  switch (v.type()) {
    case proton::STRING: return proton::get<std::string>(v);
    case proton::SYMBOL: return proton::get<proton::symbol>(v);
    case proton::BINARY: {
      const auto b = proton::get<proton::binary>(v);
      return {b.begin(), b.end()};
    }
    case proton::NULL_TYPE: return {};
    default: return proton::to_string(v);
  }
}

// An integer however the peer typed it (int, long, uint...); nothing when it is not a number.
inline std::optional<std::int64_t> amqp_integer(const proton::value& v) {
  if (v.type() == proton::NULL_TYPE) return std::nullopt;
  try {
    return proton::coerce<std::int64_t>(v);
  } catch (const proton::conversion_error&) {
    return std::nullopt;
  }
}

}  // namespace iotgw
