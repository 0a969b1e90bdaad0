// libFuzzer target: any datagram through the CoAP codec. Whatever decodes must encode to a
// datagram that decodes to the same message (options in number order, as the wire keeps them);
// whatever does not must say why. The engine has its own target (coap_engine_fuzz.cpp).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "codec/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace iotgw::coap;
  Message m;
  std::string error;
  const auto result = decode({data, size}, m, error);
  if (result != Decoded::message) {
    if (error.empty()) std::abort();  // every refusal says why
    return 0;
  }
  std::vector<std::uint8_t> again;
  encode(m, again);
  Message back;
  if (decode(again, back, error) != Decoded::message) std::abort();
  if (back.type != m.type || back.code != m.code || back.id != m.id || back.token != m.token ||
      back.options != m.options || back.payload != m.payload) {
    std::abort();
  }
  return 0;
}
