// `aes-gcm`: AES-256-GCM payload encryption (OpenSSL EVP) in the envelope documented in
// envelope.hpp. Encrypts with the active key, decrypts with any listed key, so keys rotate
// without downtime: add the new key, make it active, drop the old one once nothing sealed with
// it is in flight. Key bytes are never logged; key files others can read are refused.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include <iotgw/plugin.hpp>

#include "envelope.hpp"
#include "iotgw/common/sas_token.hpp"

namespace {

using iotgw::aesgcm::Key;

// A key file holds the 32 key bytes, raw or base64 (openssl rand -base64 32).
Key read_key(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw iotgw::Error("cannot read key file " + path);
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw iotgw::Error("key file " + path + " is open to others (mode " + mode + "): chmod 600 it");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  Key key{};
  if (text.size() == key.size()) {
    std::copy(text.begin(), text.end(), key.begin());
    return key;
  }
  const auto decoded = iotgw::sas::base64_decode(text);
  if (!decoded || decoded->size() != key.size()) {
    throw iotgw::Error("key file " + path + " does not hold 32 bytes (raw or base64)");
  }
  std::copy(decoded->begin(), decoded->end(), key.begin());
  return key;
}

class AesGcm final : public iotgw::StageBase {
 public:
  static constexpr const char* name = "aes-gcm";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "AES-256-GCM payload encryption bound to the device id, with key rotation";
  static constexpr iotgw_config_key config_keys[] = {
      {"keys", IOTGW_CFG_STRING_LIST, nullptr,
       "key files (32 bytes, raw or base64, mode 600); a key's id is its file name without "
       "the extension"},
      {"active", IOTGW_CFG_STRING, "", "the key id that encrypts; empty: the first listed"},
      {"direction", IOTGW_CFG_STRING, "both",
       "up: encrypt what devices send; down: decrypt what they receive; both"},
  };

  AesGcm(const iotgw::Context& ctx, const iotgw::Config& config) : StageBase(ctx) {
    for (const auto& path : config.list("keys")) {
      const auto id = std::filesystem::path(path).stem().string();
      if (id.empty() || id.size() > iotgw::aesgcm::kMaxKeyId) {
        throw iotgw::Error("key file " + path + ": its name must give a key id of 1 to 64 chars");
      }
      if (!keys_.emplace(id, read_key(path)).second) {
        throw iotgw::Error("two key files give key id '" + id + "'");
      }
      if (active_.empty()) active_ = id;
    }
    if (keys_.empty()) throw iotgw::Error("keys: list at least one key file");
    if (const auto a = config.string("active"); !a.empty()) {
      if (keys_.count(a) == 0) throw iotgw::Error("active key '" + a + "' is not among keys");
      active_ = a;
    }
    const auto dir = config.string("direction");
    up_ = dir == "up" || dir == "both";
    down_ = dir == "down" || dir == "both";
    if (!up_ && !down_) throw iotgw::Error("direction '" + dir + "' is not up, down or both");
  }

  iotgw::Verdict upstream(iotgw::Message& msg, std::string&) override {
    if (!up_) return iotgw::Verdict::proceed;
    msg.set_body(iotgw::aesgcm::seal(keys_.at(active_), active_, msg.device_id(), msg.body()));
    msg.set(iotgw::Scope::application, iotgw::aesgcm::kMarker, iotgw::aesgcm::kScheme);
    return iotgw::Verdict::proceed;
  }

  iotgw::Verdict downstream(iotgw::Message& msg, std::string& reason) override {
    if (!down_) return iotgw::Verdict::proceed;
    const auto marker = msg.get(iotgw::Scope::application, iotgw::aesgcm::kMarker);
    if (!marker) {
      reason = "aes-gcm: the message is not encrypted (no " + std::string(iotgw::aesgcm::kMarker) +
               " property)";
      return iotgw::Verdict::reject;
    }
    if (*marker != iotgw::aesgcm::kScheme) {
      reason = "aes-gcm: unknown scheme '" + std::string(*marker) + "'";
      return iotgw::Verdict::reject;
    }
    std::string error;
    const auto id = iotgw::aesgcm::key_id_of(msg.body(), error);
    if (!id) {
      reason = "aes-gcm: " + error;
      return iotgw::Verdict::reject;
    }
    const auto key = keys_.find(*id);
    if (key == keys_.end()) {
      reason = "aes-gcm: unknown key id '" + *id + "'";
      return iotgw::Verdict::reject;
    }
    auto plain = iotgw::aesgcm::open(key->second, msg.device_id(), msg.body(), error);
    if (!plain) {
      reason = "aes-gcm: " + error;
      return iotgw::Verdict::reject;
    }
    msg.set_body(*plain);
    msg.remove(iotgw::Scope::application, iotgw::aesgcm::kMarker);
    return iotgw::Verdict::proceed;
  }

 private:
  std::map<std::string, Key> keys_;
  std::string active_;
  bool up_ = true, down_ = true;
};

}  // namespace

IOTGW_STAGE_PLUGIN(AesGcm)
