// libFuzzer target: an aes-gcm envelope as it comes back from the hub (cloud-to-device), which
// anyone with the hub's service rights can write. Opening any bytes either yields the plaintext
// or an error that says why; it never reads past the envelope. The first byte picks how much of
// the input is the device id, so the additional data varies too.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace iotgw::aesgcm;
  if (size == 0) return 0;
  const std::size_t device_length = std::min<std::size_t>(data[0] % 32, size - 1);
  const std::string_view device(reinterpret_cast<const char*>(data + 1), device_length);
  const std::string_view envelope(reinterpret_cast<const char*>(data + 1 + device_length),
                                  size - 1 - device_length);
  Key key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  std::string error;
  if (!key_id_of(envelope, error) && error.empty()) std::abort();
  error.clear();
  if (const auto plain = open(key, device, envelope, error)) {
    // Only a sealed envelope opens: sealing it again under the same key must open to it too.
    const auto again = seal(key, "k", device, *plain);
    std::string e2;
    if (open(key, device, again, e2) != plain) std::abort();
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}
