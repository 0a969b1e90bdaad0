#include "credentials.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <stdexcept>

#include "iotgw/common/sas_token.hpp"

namespace iotgw::authfile {

namespace {

std::string pbkdf2(const std::string& password, const std::vector<std::uint8_t>& salt,
                   std::uint32_t iterations) {
  std::vector<std::uint8_t> out(32);
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    throw std::runtime_error("PBKDF2 failed");
  }
  return sas::base64_encode(out);
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  s.erase(std::remove(s.begin(), s.end(), ':'), s.end());  // openssl prints AB:CD:...
  return s;
}

std::string text(const YAML::Node& n, const char* key, const std::string& file, bool required) {
  if (n[key] && n[key].IsScalar()) return n[key].Scalar();
  if (!required) return {};
  throw std::runtime_error(file + ":" + std::to_string(n.Mark().line + 1) + ": missing '" + key +
                           "'");
}

std::string from_hex(const std::string& hex, const std::string& where) {
  if (hex.size() % 2 != 0) throw std::runtime_error(where + ": 'key_hex' has an odd length");
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const auto digit = [&](char ch) {
      if (ch >= '0' && ch <= '9') return ch - '0';
      if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
      if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
      throw std::runtime_error(where + ": 'key_hex' is not hexadecimal");
    };
    out.push_back(static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1])));
  }
  return out;
}

}  // namespace

const PreSharedKey* Credentials::find_psk(std::string_view identity) const {
  for (const auto& p : psks) {
    if (p.identity == identity) return &p;
  }
  return nullptr;
}

Credentials Credentials::load(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read credentials " + file.string() + ": " + e.what());
  }
  Credentials c;
  const auto f = file.string();
  for (const auto& u : root["users"]) {
    User user{text(u, "user", f, true), text(u, "device", f, true), text(u, "salt", f, true),
              text(u, "hash", f, true)};
    if (auto it = text(u, "iterations", f, false); !it.empty()) {
      user.iterations = static_cast<std::uint32_t>(std::stoul(it));
    }
    c.users.push_back(std::move(user));
  }
  for (const auto& x : root["certificates"]) {
    Certificate cert{upper(text(x, "thumbprint", f, false)), text(x, "cn", f, false),
                     text(x, "device", f, true)};
    if (cert.thumbprint.empty() == cert.cn.empty()) {
      throw std::runtime_error(f + ":" + std::to_string(x.Mark().line + 1) +
                               ": a certificate entry needs one of 'thumbprint' or 'cn'");
    }
    c.certificates.push_back(std::move(cert));
  }
  for (const auto& x : root["psk"]) {
    const auto where = f + ":" + std::to_string(x.Mark().line + 1);
    PreSharedKey psk{text(x, "identity", f, true), text(x, "key", f, false),
                     text(x, "device", f, true)};
    if (const auto hex = text(x, "key_hex", f, false); !hex.empty()) {
      if (!psk.key.empty()) throw std::runtime_error(where + ": give one of 'key' or 'key_hex'");
      psk.key = from_hex(hex, where);
    }
    if (psk.key.empty()) throw std::runtime_error(where + ": a psk entry needs 'key' or 'key_hex'");
    if (psk.key.size() > 64) throw std::runtime_error(where + ": a key is at most 64 bytes");
    c.psks.push_back(std::move(psk));
  }
  return c;
}

void Credentials::save(const std::filesystem::path& file) const {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "users" << YAML::Value << YAML::BeginSeq;
  for (const auto& u : users) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "user" << YAML::Value << u.user << YAML::Key
        << "device" << YAML::Value << u.device << YAML::Key << "salt" << YAML::Value << u.salt
        << YAML::Key << "iterations" << YAML::Value << u.iterations << YAML::Key << "hash"
        << YAML::Value << u.hash << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::Key << "certificates" << YAML::Value << YAML::BeginSeq;
  for (const auto& c : certificates) {
    out << YAML::Flow << YAML::BeginMap;
    if (!c.thumbprint.empty()) out << YAML::Key << "thumbprint" << YAML::Value << c.thumbprint;
    if (!c.cn.empty()) out << YAML::Key << "cn" << YAML::Value << c.cn;
    out << YAML::Key << "device" << YAML::Value << c.device << YAML::EndMap;
  }
  out << YAML::EndSeq;
  if (!psks.empty()) {  // written as hex: a key is bytes, not text
    out << YAML::Key << "psk" << YAML::Value << YAML::BeginSeq;
    for (const auto& p : psks) {
      std::string hex;
      for (const unsigned char ch : p.key) {
        constexpr const char* kDigits = "0123456789abcdef";
        hex += kDigits[ch >> 4];
        hex += kDigits[ch & 15];
      }
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "identity" << YAML::Value << p.identity
          << YAML::Key << "key_hex" << YAML::Value << hex << YAML::Key << "device" << YAML::Value
          << p.device << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << out.c_str() << "\n";
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, file);
}

std::optional<std::string> Credentials::check_password(const std::string& user,
                                                       const std::string& password,
                                                       std::string& why) const {
  const auto it =
      std::find_if(users.begin(), users.end(), [&](const User& u) { return u.user == user; });
  if (it == users.end()) {
    why = "unknown user '" + user + "'";
    return std::nullopt;
  }
  const auto salt = sas::base64_decode(it->salt);
  if (!salt) {
    why = "user '" + user + "' has a salt that is not base64";
    return std::nullopt;
  }
  const auto got = pbkdf2(password, *salt, it->iterations);
  if (got.size() != it->hash.size() ||
      CRYPTO_memcmp(got.data(), it->hash.data(), got.size()) != 0) {
    why = "wrong password for '" + user + "'";
    return std::nullopt;
  }
  return it->device;
}

std::optional<std::string> Credentials::check_certificate(const std::string& thumbprint,
                                                          const std::string& cn) const {
  const auto t = upper(thumbprint);
  for (const auto& c : certificates) {
    if (!t.empty() && c.thumbprint == t) return c.device;
  }
  for (const auto& c : certificates) {
    if (!cn.empty() && c.cn == cn) return c.device;
  }
  return std::nullopt;
}

User hash_user(const std::string& user, const std::string& device, const std::string& password,
               std::uint32_t iterations) {
  std::vector<std::uint8_t> salt(16);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    throw std::runtime_error("no random bytes for a salt");
  }
  return {user, device, sas::base64_encode(salt), pbkdf2(password, salt, iterations), iterations};
}

}  // namespace iotgw::authfile
