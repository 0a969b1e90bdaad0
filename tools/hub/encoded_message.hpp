// A message the hub keeps, as its AMQP encoding: a decoded proton::message is some 6 KB of small
// allocations and copying one encodes and decodes it, where the encoding is a few hundred bytes.
#pragma once

#include <vector>

#include <proton/message.hpp>

namespace iotgw::hub {

using EncodedMessage = std::vector<char>;

// The encoding, exactly its size: Proton's encode leaves room to spare in the buffer it grows,
// which a retained message would carry for its life. `scratch` is that buffer, kept by a caller
// that encodes often so it is not grown anew each time.
inline EncodedMessage encode_exact(const proton::message& m, std::vector<char>& scratch) {
  m.encode(scratch);
  return {scratch.begin(), scratch.end()};
}

inline EncodedMessage encode_exact(const proton::message& m) {
  std::vector<char> scratch;
  return encode_exact(m, scratch);
}

}  // namespace iotgw::hub
