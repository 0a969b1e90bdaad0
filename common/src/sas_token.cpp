#include "iotgw/common/sas_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "iotgw/common/units.hpp"

namespace iotgw::sas {

namespace {

constexpr std::string_view kPrefix = "SharedAccessSignature ";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view strip_scheme(std::string_view s) {
  const auto at = s.find("://");
  return at == std::string_view::npos ? s : s.substr(at + 3);
}

std::string signature_for(std::string_view signed_resource, std::int64_t expiry,
                          const std::vector<std::uint8_t>& key) {
  const std::string message = std::string(signed_resource) + "\n" + std::to_string(expiry);
  return base64_encode(hmac_sha256(key, message));
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

std::optional<std::string> url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      const int hi = hex(text[i + 1]);
      const int lo = hex(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  // Strictly the alphabet, '=' only as the last one or two: EVP_DecodeBlock skips leading and
  // trailing whitespace, so sixteen spaces decoded to an empty key, and "QQ==" followed by
  // spaces to three bytes instead of one (Fuzz.SasToken).
  const auto padding = text.size() - std::min(text.find_last_not_of('='), text.size() - 1) - 1;
  if (padding > 2) return std::nullopt;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    const char c = text[i];
    const bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!alphabet) return std::nullopt;
  }
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  std::size_t len = static_cast<std::size_t>(n);
  if (text.back() == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

std::vector<std::uint8_t> hmac_sha256(const std::vector<std::uint8_t>& key,
                                      std::string_view message) {
  std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len);
  out.resize(len);
  return out;
}

std::string random_key(std::size_t n) {
  std::vector<std::uint8_t> bytes(n);
  if (RAND_bytes(bytes.data(), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return base64_encode(bytes);
}

std::optional<Token> parse(std::string_view text, std::string& why) {
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    why = "not a SharedAccessSignature";
    return std::nullopt;
  }
  text.remove_prefix(kPrefix.size());
  Token t;
  bool have_sr = false, have_sig = false, have_se = false;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const std::string_view field = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) {
      why = "field without '='";
      return std::nullopt;
    }
    const std::string_view key = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    auto decoded = url_decode(value);
    if (!decoded) {
      why = "bad percent-encoding in " + std::string(key);
      return std::nullopt;
    }
    if (key == "sr") {
      t.resource = *decoded;
      t.raw_resource = std::string(value);
      have_sr = true;
    } else if (key == "sig") {
      t.signature = *decoded;
      have_sig = true;
    } else if (key == "se") {
      auto se = parse_int(*decoded);
      if (!se) {
        why = "se is not a number";
        return std::nullopt;
      }
      t.expiry = *se;
      have_se = true;
    } else if (key == "skn") {
      t.policy = *decoded;
    }  // unknown fields are ignored, as IoT Hub does
  }
  if (!have_sr || !have_sig || !have_se) {
    why = "missing sr, sig or se";
    return std::nullopt;
  }
  return t;
}

std::string make(std::string_view resource, std::string_view base64_key, std::int64_t expiry,
                 std::string_view policy) {
  auto key = base64_decode(base64_key);
  if (!key) throw std::invalid_argument("the key is not base64");
  const std::string sr = url_encode(resource);
  std::string token = std::string(kPrefix) + "sr=" + sr +
                      "&sig=" + url_encode(signature_for(sr, expiry, *key)) +
                      "&se=" + std::to_string(expiry);
  if (!policy.empty()) token += "&skn=" + url_encode(policy);
  return token;
}

bool signed_with(const Token& token, std::string_view base64_key) {
  auto key = base64_decode(base64_key);
  if (!key) return false;
  const std::string encoded = url_encode(token.resource);
  // Evaluate every form, so the time taken does not tell which one matched.
  const bool a = equal_constant_time(signature_for(encoded, token.expiry, *key), token.signature);
  const bool b =
      equal_constant_time(signature_for(lower(encoded), token.expiry, *key), token.signature);
  const bool c =
      equal_constant_time(signature_for(token.resource, token.expiry, *key), token.signature);
  const bool d =
      equal_constant_time(signature_for(token.raw_resource, token.expiry, *key), token.signature);
  return a || b || c || d;
}

// Host names compare without case; the path (device ids) with case, as IoT Hub's ids do.
std::string normalised(std::string_view uri) {
  std::string s(strip_scheme(uri));
  const auto slash = s.find('/');
  const std::string host = lower(s.substr(0, slash));
  return slash == std::string::npos ? host : host + s.substr(slash);
}

bool covers(std::string_view resource, std::string_view covered) {
  std::string r = normalised(resource);
  std::string c = normalised(covered);
  while (!r.empty() && r.back() == '/') r.pop_back();
  while (!c.empty() && c.back() == '/') c.pop_back();
  if (r.empty()) return false;
  if (c.size() < r.size() || c.compare(0, r.size(), r) != 0) return false;
  return c.size() == r.size() || c[r.size()] == '/';
}

}  // namespace iotgw::sas
