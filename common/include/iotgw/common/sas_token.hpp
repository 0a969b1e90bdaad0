// IoT Hub shared access signatures, shared by iotgw-hub (which checks them), the bridge (which
// mints them) and the auth stages: one implementation of the format and the crypto.
//
//   SharedAccessSignature sr={URL-encoded resource}&sig={URL-encoded base64
//   HMAC}&se={expiry}[&skn={policy}] sig = base64(HMAC-SHA256(key = base64-decode(shared key),
//   URL-encoded resource + "\n" + se))
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iotgw::sas {

struct Token {
  std::string resource;      // decoded: "myhub.azure-devices.net/devices/dev1"
  std::string signature;     // decoded: the base64 text of the HMAC
  std::int64_t expiry = 0;   // seconds since the Unix epoch
  std::string policy;        // skn; empty for a device's own key
  std::string raw_resource;  // sr exactly as it was in the token (still URL-encoded)
};

// Parses a token; fields in any order. nullopt (with why) when it is not one.
std::optional<Token> parse(std::string_view text, std::string& why);

// Mints a token for resource, signed with a base64 key, valid until expiry.
std::string make(std::string_view resource, std::string_view base64_key, std::int64_t expiry,
                 std::string_view policy = {});

// Whether the token's signature was made with this key. Some SDKs sign the encoded resource,
// some the raw one: both are accepted. Constant-time comparison.
bool signed_with(const Token& token, std::string_view base64_key);

// Whether `covered` lies under `resource` by whole path segments, ignoring a scheme and case of
// the host: "hub/devices" covers "hub/devices/dev1" but not "hub/devicesX".
bool covers(std::string_view resource, std::string_view covered);

// Percent-encoding as IoT Hub SDKs do it (RFC 3986 unreserved characters kept).
std::string url_encode(std::string_view text);
std::optional<std::string> url_decode(std::string_view text);

std::string base64_encode(const std::vector<std::uint8_t>& bytes);
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

// HMAC-SHA256 of message with key.
std::vector<std::uint8_t> hmac_sha256(const std::vector<std::uint8_t>& key,
                                      std::string_view message);

// `n` random bytes from the system's CSPRNG, base64-encoded: a fresh shared key.
std::string random_key(std::size_t n = 32);

}  // namespace iotgw::sas
