#include "iotgw/common/secret_file.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

namespace iotgw {

std::optional<SecretFileError> refuse_public_file(const std::filesystem::path& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // Kubernetes mounts a Secret's files as symbolic links into ..data: the target's mode counts.
  const auto st = fs::status(file, ec);
  if (ec) return SecretFileError{file.string() + ": " + ec.message()};
  if (!fs::is_regular_file(st)) return SecretFileError{file.string() + ": not a regular file"};
  if ((st.permissions() & fs::perms::others_read) != fs::perms::none) {
    return SecretFileError{file.string() + ": readable by others (chmod o-r, or mode 0600/0640)"};
  }
  return std::nullopt;
}

std::variant<std::string, SecretFileError> read_secret_file(const std::filesystem::path& file) {
  if (auto refused = refuse_public_file(file)) return *refused;
  std::ifstream in(file, std::ios::binary);
  if (!in) return SecretFileError{file.string() + ": cannot be read"};
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' ||
                             secret.back() == ' ' || secret.back() == '\t')) {
    secret.pop_back();
  }
  if (secret.empty()) return SecretFileError{file.string() + ": empty"};
  return secret;
}

}  // namespace iotgw
