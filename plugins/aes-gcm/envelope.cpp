#include "envelope.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>
#include <stdexcept>

namespace iotgw::aesgcm {

namespace {

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* bytes(std::string& s, std::size_t at) {
  return reinterpret_cast<unsigned char*>(s.data()) + at;
}

// One cipher fetched once and one context per thread, reused: with OpenSSL 3, creating a
// context and fetching the cipher for every message cost more than encrypting 256 bytes.
struct CipherFree {
  void operator()(EVP_CIPHER* c) const { EVP_CIPHER_free(c); }
};
const EVP_CIPHER* aes_256_gcm() {
  static const std::unique_ptr<EVP_CIPHER, CipherFree> cipher(
      EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr));
  return cipher.get();
}
EVP_CIPHER_CTX* thread_ctx() {
  thread_local Ctx ctx(EVP_CIPHER_CTX_new());
  return ctx.get();
}

std::string header(std::string_view key_id) {
  std::string h;
  h += static_cast<char>(kVersion);
  h += static_cast<char>(key_id.size());
  h += key_id;
  return h;
}

}  // namespace

std::string gcm_encrypt(const Key& key, std::string_view iv, std::string_view aad,
                        std::string_view plaintext) {
  std::string out(plaintext.size() + kTag, '\0');
  EVP_CIPHER_CTX* ctx = thread_ctx();
  int n = 0;
  if (ctx == nullptr || aes_256_gcm() == nullptr || iv.size() != kNonce ||
      EVP_EncryptInit_ex2(ctx, aes_256_gcm(), key.data(), bytes(iv), nullptr) != 1 ||
      EVP_EncryptUpdate(ctx, nullptr, &n, bytes(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx, bytes(out, 0), &n, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx, bytes(out, static_cast<std::size_t>(n)), &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTag, bytes(out, plaintext.size())) != 1) {
    throw std::runtime_error("AES-GCM encryption failed");
  }
  return out;
}

std::optional<std::string> gcm_decrypt(const Key& key, std::string_view iv, std::string_view aad,
                                       std::string_view sealed) {
  if (iv.size() != kNonce || sealed.size() < kTag) return std::nullopt;
  const auto ciphertext = sealed.substr(0, sealed.size() - kTag);
  std::string tag(sealed.substr(ciphertext.size()));
  std::string plain(ciphertext.size(), '\0');
  EVP_CIPHER_CTX* ctx = thread_ctx();
  int n = 0;
  const bool ok =
      ctx != nullptr && aes_256_gcm() != nullptr &&
      EVP_DecryptInit_ex2(ctx, aes_256_gcm(), key.data(), bytes(iv), nullptr) == 1 &&
      EVP_DecryptUpdate(ctx, nullptr, &n, bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx, bytes(plain, 0), &n, bytes(ciphertext),
                        static_cast<int>(ciphertext.size())) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx, bytes(plain, static_cast<std::size_t>(n)), &n) == 1;
  if (!ok) return std::nullopt;
  return plain;
}

std::string seal_with_nonce(const Key& key, std::string_view key_id, std::string_view device,
                            std::string_view plaintext,
                            const std::array<std::uint8_t, kNonce>& nonce) {
  if (key_id.empty() || key_id.size() > kMaxKeyId) throw std::invalid_argument("bad key id");
  const std::string head = header(key_id);
  const std::string_view iv(reinterpret_cast<const char*>(nonce.data()), nonce.size());
  return head + std::string(iv) + gcm_encrypt(key, iv, head + std::string(device), plaintext);
}

std::string seal(const Key& key, std::string_view key_id, std::string_view device,
                 std::string_view plaintext) {
  std::array<std::uint8_t, kNonce> nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    throw std::runtime_error("no random bytes for a nonce");
  }
  return seal_with_nonce(key, key_id, device, plaintext, nonce);
}

std::optional<std::string> key_id_of(std::string_view envelope, std::string& error) {
  if (envelope.size() < 2) {
    error = "envelope truncated";
    return std::nullopt;
  }
  if (static_cast<std::uint8_t>(envelope[0]) != kVersion) {
    error =
        "envelope version " + std::to_string(static_cast<std::uint8_t>(envelope[0])) + " is not 1";
    return std::nullopt;
  }
  const std::size_t len = static_cast<std::uint8_t>(envelope[1]);
  if (len == 0 || len > kMaxKeyId || envelope.size() < 2 + len + kNonce + kTag) {
    error = "envelope truncated";
    return std::nullopt;
  }
  return std::string(envelope.substr(2, len));
}

std::optional<std::string> open(const Key& key, std::string_view device, std::string_view envelope,
                                std::string& error) {
  const auto id = key_id_of(envelope, error);
  if (!id) return std::nullopt;
  const std::size_t head = 2 + id->size();
  auto plain = gcm_decrypt(key, envelope.substr(head, kNonce),
                           std::string(envelope.substr(0, head)) + std::string(device),
                           envelope.substr(head + kNonce));
  if (!plain) {
    error = "envelope does not verify (tampered, truncated, another device's, or another key)";
  }
  return plain;
}

}  // namespace iotgw::aesgcm
