// The auth-file credentials file: user names with salted PBKDF2-SHA256 hashes, and client
// certificates (by SHA-256 thumbprint or subject CN), each mapped to a device id.
//
//   users:
//     - {user: alice, device: dev1, salt: <base64>, iterations: 210000, hash: <base64>}
//   certificates:
//     - {thumbprint: 4F2A...(hex SHA-256), device: dev2}
//     - {cn: meter-7, device: dev3}
//   psk:                                  (DTLS pre-shared keys, as coap-client -u/-k take them)
//     - {identity: sensor-9, key: secretKey, device: dev4}
//     - {identity: sensor-10, key_hex: 00a1ff..., device: dev5}
//
// `iotgw-auth-file add FILE USER DEVICE` adds a user, reading the password without echo.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iotgw::authfile {

struct User {
  std::string user, device, salt, hash;  // salt and hash base64
  std::uint32_t iterations = 210'000;    // OWASP's 2023 figure for PBKDF2-HMAC-SHA256
};

struct Certificate {
  std::string thumbprint, cn, device;  // one of thumbprint (upper-case hex) or cn
};

struct PreSharedKey {
  std::string identity, key, device;  // key as raw bytes
};

struct Credentials {
  std::vector<User> users;
  std::vector<Certificate> certificates;
  std::vector<PreSharedKey> psks;

  // Throws std::runtime_error naming the file and what is wrong.
  static Credentials load(const std::filesystem::path& file);
  void save(const std::filesystem::path& file) const;  // 0600, atomically

  // The device a password logs in as, or nullopt (`why` says which check failed).
  std::optional<std::string> check_password(const std::string& user, const std::string& password,
                                            std::string& why) const;
  std::optional<std::string> check_certificate(const std::string& thumbprint,
                                               const std::string& cn) const;
  const PreSharedKey* find_psk(std::string_view identity) const;
};

// A fresh random salt and the PBKDF2-SHA256 hash of `password`.
User hash_user(const std::string& user, const std::string& device, const std::string& password,
               std::uint32_t iterations = 210'000);

}  // namespace iotgw::authfile
