// The aes-gcm stage's envelope, which any AES-GCM library can open:
//
//   offset 0       version, 1 byte: 0x01
//   offset 1       key id length L, 1 byte (1 to 64)
//   offset 2       key id, L bytes of ASCII (the key file's name without its extension)
//   offset 2+L     nonce, 12 random bytes (new for every message)
//   offset 14+L    ciphertext, as long as the plaintext
//   last 16 bytes  GCM tag
//
// AES-256-GCM, key = the key file's 32 bytes, IV = the nonce, and additional authenticated data
// = the first 2+L bytes (version, length, key id) followed by the device id in UTF-8: a message
// moved to another device, or relabelled with another key id, fails to open.
// The message carries application property `iotgw-encryption` = `aes-256-gcm/1`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace iotgw::aesgcm {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kNonce = 12, kTag = 16, kMaxKeyId = 64;
inline constexpr std::string_view kMarker = "iotgw-encryption";
inline constexpr std::string_view kScheme = "aes-256-gcm/1";

using Key = std::array<std::uint8_t, 32>;

// Seals `plaintext` for `device` under `key` (named `key_id`); the nonce is drawn here.
std::string seal(const Key& key, std::string_view key_id, std::string_view device,
                 std::string_view plaintext);

// The key id an envelope names, or nullopt when the header is malformed.
std::optional<std::string> key_id_of(std::string_view envelope, std::string& error);
// Opens an envelope with `key`; nullopt with `error` when it is malformed or does not verify.
std::optional<std::string> open(const Key& key, std::string_view device, std::string_view envelope,
                                std::string& error);

// The primitive under the envelope: AES-256-GCM with a 96-bit IV. encrypt returns ciphertext
// followed by the 16-byte tag; decrypt takes the same and returns nullopt when it does not verify.
std::string gcm_encrypt(const Key& key, std::string_view iv, std::string_view aad,
                        std::string_view plaintext);
std::optional<std::string> gcm_decrypt(const Key& key, std::string_view iv, std::string_view aad,
                                       std::string_view sealed);

// Seals with a nonce the caller gives: for known-answer tests only.
std::string seal_with_nonce(const Key& key, std::string_view key_id, std::string_view device,
                            std::string_view plaintext,
                            const std::array<std::uint8_t, kNonce>& nonce);

}  // namespace iotgw::aesgcm
