// SAS tokens against a vector computed independently (Python's hmac, hashlib and urllib).
#include <gtest/gtest.h>

#include "iotgw/common/sas_token.hpp"

namespace iotgw::sas {
namespace {

constexpr const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";  // bytes 0..31
constexpr const char* kToken =
    "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1"
    "&sig=i%2BYmMcSSZc4KzBi6ejz3l0iL%2B2sN0CE3q6vSm837h2g%3D&se=1700000000";

TEST(SasToken, MakesTheIndependentlyComputedToken) {
  EXPECT_EQ(make("myhub.azure-devices.net/devices/dev1", kKey, 1700000000), kToken);
}

TEST(SasToken, ParsesFieldsInAnyOrderAndVerifies) {
  std::string why;
  auto t = parse(
      "SharedAccessSignature "
      "se=1700000000&skn=svc&sig=i%2BYmMcSSZc4KzBi6ejz3l0iL%2B2sN0CE3q6vSm837h2g%3D"
      "&sr=myhub.azure-devices.net%2Fdevices%2Fdev1",
      why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->resource, "myhub.azure-devices.net/devices/dev1");
  EXPECT_EQ(t->expiry, 1700000000);
  EXPECT_EQ(t->policy, "svc");
  EXPECT_TRUE(signed_with(*t, kKey));
  EXPECT_FALSE(signed_with(*t, random_key()));
}

TEST(SasToken, AcceptsASignatureOverTheRawResource) {
  // Some SDKs sign the resource before URL-encoding it.
  const auto key = *base64_decode(kKey);
  const std::string sig =
      base64_encode(hmac_sha256(key, "myhub.azure-devices.net/devices/dev1\n1700000000"));
  std::string why;
  auto t = parse("SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdev1&sig=" +
                     url_encode(sig) + "&se=1700000000",
                 why);
  ASSERT_TRUE(t) << why;
  EXPECT_TRUE(signed_with(*t, kKey));
}

TEST(SasToken, RefusesMalformedTokens) {
  std::string why;
  EXPECT_FALSE(parse("Bearer abc", why));
  EXPECT_FALSE(parse("SharedAccessSignature sr=a&se=1", why));
  EXPECT_EQ(why, "missing sr, sig or se");
  EXPECT_FALSE(parse("SharedAccessSignature sr=a&sig=b&se=soon", why));
  EXPECT_FALSE(parse("SharedAccessSignature sr=%zz&sig=b&se=1", why));
}

TEST(SasToken, CoversByWholePathSegments) {
  EXPECT_TRUE(covers("myhub.azure-devices.net/devices", "myhub.azure-devices.net/devices/dev1"));
  EXPECT_TRUE(covers("myhub.azure-devices.net", "myhub.azure-devices.net/devices/dev1"));
  EXPECT_TRUE(covers("amqps://MyHub.azure-devices.net/devices/dev1",
                     "myhub.azure-devices.net/devices/dev1"));
  EXPECT_FALSE(
      covers("myhub.azure-devices.net/devices/dev1", "myhub.azure-devices.net/devices/dev10"));
  EXPECT_FALSE(covers("myhub.azure-devices.net/devices/dev1", "myhub.azure-devices.net/devices"));
  EXPECT_FALSE(covers("", "myhub.azure-devices.net"));
  EXPECT_FALSE(
      covers("myhub.azure-devices.net/devices/abc", "myhub.azure-devices.net/devices/ABC"));
}

TEST(SasToken, Base64AndUrlEncodingRoundTrip) {
  const std::vector<std::uint8_t> bytes = {0, 1, 2, 250, 251, 252, 253};
  EXPECT_EQ(*base64_decode(base64_encode(bytes)), bytes);
  EXPECT_FALSE(base64_decode("abc"));
  EXPECT_EQ(url_encode("a b/c+d=e"), "a%20b%2Fc%2Bd%3De");
  EXPECT_EQ(*url_decode("a%20b%2Fc%2Bd%3De"), "a b/c+d=e");
  EXPECT_FALSE(url_decode("%4"));
  EXPECT_EQ(base64_decode(random_key())->size(), 32U);
}

}  // namespace
}  // namespace iotgw::sas

// Found by Fuzz.SasToken: OpenSSL's block decoder skips surrounding whitespace, so spaces
// decoded to an empty key and padding followed by spaces to extra zero bytes.
TEST(Base64, OnlyTheAlphabetAndTrailingPaddingDecode) {
  using iotgw::sas::base64_decode;
  EXPECT_FALSE(base64_decode("                "));
  EXPECT_FALSE(base64_decode("QQ==    "));
  EXPECT_FALSE(base64_decode(" QUJD"));
  EXPECT_FALSE(base64_decode("QU=D"));
  EXPECT_FALSE(base64_decode("===="));
  ASSERT_TRUE(base64_decode("QQ=="));
  EXPECT_EQ(base64_decode("QQ==")->size(), 1U);
  EXPECT_EQ(base64_decode("QUI=")->size(), 2U);
  EXPECT_EQ(base64_decode("QUJD")->size(), 3U);
}
