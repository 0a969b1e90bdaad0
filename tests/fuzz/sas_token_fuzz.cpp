// libFuzzer target: a device's password as the auth-sas stage and iotgw-hub read it. Any text
// parses or is refused with a reason; a parsed token is checked against a key and a resource
// without throwing; the URL and base64 codecs round-trip what they accept.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "iotgw/common/sas_token.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace iotgw::sas;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (const auto token = parse(text, why)) {
    (void)signed_with(*token, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    (void)covers("hub.azure-devices.net/devices/d1", text);
  } else if (why.empty()) {
    std::abort();  // every refusal says why
  }
  if (const auto decoded = url_decode(text)) {
    if (url_decode(url_encode(*decoded)) != decoded) std::abort();
  }
  if (const auto bytes = base64_decode(text)) {
    if (base64_decode(base64_encode(*bytes)) != bytes) std::abort();
  }
  return 0;
}
