// A secret kept in a file of its own (a key, a password), so a topology can sit in a ConfigMap
// and its secrets in a Secret, each with its own permissions.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <variant>

namespace iotgw {

struct SecretFileError {
  std::string why;  // names the file
};

// The file's content without trailing whitespace (echo adds a newline). Refused, with the reason:
// a file others may read (a secret there is no secret: chmod o-r it, or in Kubernetes give the
// Secret's volume a defaultMode without the others' bits), an empty one, one that cannot be read.
std::variant<std::string, SecretFileError> read_secret_file(const std::filesystem::path& file);

// The check alone, for secrets a library reads itself (a TLS private key): nullopt when the
// file is a regular file others cannot read.
std::optional<SecretFileError> refuse_public_file(const std::filesystem::path& file);

}  // namespace iotgw
