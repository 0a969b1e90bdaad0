// AES-256-GCM and the aes-gcm envelope against answers computed elsewhere: the GCM spec's test
// case 16 (McGrew and Viega; also in NIST's GCM vectors) for the primitive, and an envelope
// sealed by python3-cryptography for the format. Then what must be refused.
#include <gtest/gtest.h>

#include "envelope.hpp"

namespace iotgw::aesgcm {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

Key key_of(std::string_view hex) {
  const auto bytes = unhex(hex);
  Key k{};
  std::copy(bytes.begin(), bytes.end(), k.begin());
  return k;
}

TEST(AesGcm, GcmSpecTestCase16) {
  const auto key = key_of("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = unhex("cafebabefacedbaddecaf888");
  const auto plain = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449"
      "a6b525b16aedf5aa0de657ba637b39");
  const auto aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const auto expected = unhex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
      "828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  EXPECT_EQ(gcm_encrypt(key, iv, aad, plain), expected);
  EXPECT_EQ(gcm_decrypt(key, iv, aad, expected), plain);
}

Key counting_key() {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);
  return k;
}

std::array<std::uint8_t, kNonce> counting_nonce() {
  std::array<std::uint8_t, kNonce> n{};
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(i);
  return n;
}

// Sealed by python3-cryptography's AESGCM with the documented header and AAD.
const std::string kPythonEnvelope =
    unhex("01026b31000102030405060708090a0b2f67ba77aac5ab74f926e0ea71dbcee12adaed15afaeacfa523ca6");

TEST(AesGcm, TheEnvelopeIsWhatAnotherLibraryMakes) {
  EXPECT_EQ(seal_with_nonce(counting_key(), "k1", "dev1", "hello iotgw", counting_nonce()),
            kPythonEnvelope);
  std::string error;
  EXPECT_EQ(open(counting_key(), "dev1", kPythonEnvelope, error), "hello iotgw") << error;
  EXPECT_EQ(key_id_of(kPythonEnvelope, error), "k1");
}

TEST(AesGcm, EveryMessageHasItsOwnNonce) {
  const auto a = seal(counting_key(), "k1", "dev1", "same");
  const auto b = seal(counting_key(), "k1", "dev1", "same");
  EXPECT_NE(a, b);
  std::string error;
  EXPECT_EQ(open(counting_key(), "dev1", a, error), "same");
  EXPECT_EQ(open(counting_key(), "dev1", b, error), "same");
}

TEST(AesGcm, TamperedTruncatedMovedOrWrongKeyIsRefused) {
  std::string error;
  auto tampered = kPythonEnvelope;
  tampered[20] = static_cast<char>(tampered[20] ^ 1);
  EXPECT_FALSE(open(counting_key(), "dev1", tampered, error));
  EXPECT_NE(error.find("does not verify"), std::string::npos);
  EXPECT_FALSE(open(counting_key(), "dev2", kPythonEnvelope, error));  // another device
  auto other = counting_key();
  other[0] ^= 1;
  EXPECT_FALSE(open(other, "dev1", kPythonEnvelope, error));
  EXPECT_FALSE(open(counting_key(), "dev1", kPythonEnvelope.substr(0, 20), error));
  EXPECT_EQ(error, "envelope truncated");
  auto relabelled = kPythonEnvelope;
  relabelled[3] = '2';  // "k2": the key id is authenticated too
  EXPECT_FALSE(open(counting_key(), "dev1", relabelled, error));
  auto version = kPythonEnvelope;
  version[0] = 2;
  EXPECT_FALSE(key_id_of(version, error));
  EXPECT_EQ(error, "envelope version 2 is not 1");
}

}  // namespace
}  // namespace iotgw::aesgcm
