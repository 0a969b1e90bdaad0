// Reading values an AMQP peer sends, and writing bodies as IoT Hub peers expect them. The text of
// an AMQP value as IoT Hub peers mean it: strings and symbols as they are, binary as its bytes,
// nothing as empty. Header-only, so only code that speaks AMQP needs Proton's headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <string_view>

#include <proton/binary.hpp>
#include <proton/message.hpp>
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

// Sets `bytes` as the message's body in one data section, as IoT Hub and its SDKs send bodies.
// Without inferred, Proton writes a binary body as an amqp-value section, which Azure's SDKs
// read as no body at all (azure-iot-amqp-base's AmqpMessage.toMessage takes body.content, set
// only for a data section): telemetry through iotgw reached Node consumers empty.
inline void set_data_body(proton::message& m, const proton::binary& bytes) {
  m.body(bytes);
  m.inferred(true);
}
inline void set_data_body(proton::message& m, std::string_view bytes) {
  set_data_body(m, proton::binary(bytes.begin(), bytes.end()));
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
