#include "twin_store.hpp"

#include <vector>

#include "iotgw/common/clock.hpp"
#include "iotgw/common/sas_token.hpp"
#include "json_text.hpp"

namespace iotgw::hub {

namespace {

using json = nlohmann::json;

// RFC 7386 with IoT Hub's metadata beside it: every property the patch touches gets
// $lastUpdated, and so does each object on its way down.
void merge(json& target, json& meta, const json& patch, const std::string& when) {
  meta["$lastUpdated"] = when;
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(key);
      meta.erase(key);
      continue;
    }
    if (value.is_object()) {
      if (!target.contains(key) || !target[key].is_object()) target[key] = json::object();
      if (!meta.contains(key) || !meta[key].is_object()) meta[key] = json::object();
      merge(target[key], meta[key], value, when);
      continue;
    }
    target[key] = value;
    meta[key] = json{{"$lastUpdated", when}};
  }
}

// The merge patch that turns `from` into `to`.
json patch_between(const json& from, const json& to) {
  json patch = json::object();
  for (const auto& [key, value] : from.items()) {
    if (!to.contains(key)) patch[key] = nullptr;
  }
  for (const auto& [key, value] : to.items()) {
    auto old = from.find(key);
    if (old != from.end() && old->is_object() && value.is_object()) {
      auto inner = patch_between(*old, value);
      if (!inner.empty()) patch[key] = std::move(inner);
    } else if (old == from.end() || *old != value) {
      patch[key] = value;
    }
  }
  return patch;
}

json with_version(json section, std::int64_t version) {
  section["$version"] = version;
  return section;
}

}  // namespace

TwinStore::TwinStore(TwinLimits limits, Persist persist)
    : limits_(limits), persist_(std::move(persist)) {}

std::string TwinStore::etag(const Twin& t) {
  // IoT Hub's twin etags are the base64 of the version's eight bytes, big-endian.
  std::vector<std::uint8_t> bytes(8);
  for (int i = 0; i < 8; ++i) bytes[7 - i] = static_cast<std::uint8_t>(t.version >> (8 * i));
  return sas::base64_encode(bytes);
}

void TwinStore::restore(const std::string& device, const std::string& document) {
  if (document.empty()) {
    twins_.erase(device);
    return;
  }
  const auto d = json::parse(document, nullptr, false);
  if (!d.is_object()) return;  // not ours to guess at: the twin starts empty
  Twin t;
  t.tags = d.value("tags", json::object());
  t.desired = d.value("desired", json::object());
  t.reported = d.value("reported", json::object());
  t.desired_meta = d.value("desiredMeta", json::object());
  t.reported_meta = d.value("reportedMeta", json::object());
  t.desired_version = d.value("desiredVersion", std::int64_t{1});
  t.reported_version = d.value("reportedVersion", std::int64_t{1});
  t.version = d.value("version", std::int64_t{1});
  twins_[device] = std::move(t);
}

void TwinStore::persist(const std::string& device, const Twin& t) const {
  if (persist_) persist_(device, document(t));
}

void TwinStore::for_each(const Persist& f) const {
  for (const auto& [device, t] : twins_) f(device, document(t));
}

std::string TwinStore::document(const Twin& t) {
  return json{{"tags", t.tags},
              {"desired", t.desired},
              {"reported", t.reported},
              {"desiredMeta", t.desired_meta},
              {"reportedMeta", t.reported_meta},
              {"desiredVersion", t.desired_version},
              {"reportedVersion", t.reported_version},
              {"version", t.version}}
      .dump(-1, ' ', false, kJsonReplace);
}

void TwinStore::remove(const std::string& device) {
  if (twins_.erase(device) != 0 && persist_) persist_(device, {});
}

json TwinStore::device_view(const std::string& device) const {
  auto it = twins_.find(device);
  const Twin empty;
  const Twin& t = it != twins_.end() ? it->second : empty;
  return json{{"desired", with_version(t.desired, t.desired_version)},
              {"reported", with_version(t.reported, t.reported_version)}};
}

json TwinStore::service_view(const std::string& device) const {
  auto it = twins_.find(device);
  const Twin empty;
  const Twin& t = it != twins_.end() ? it->second : empty;
  auto section = [](json props, const json& meta, std::int64_t version) {
    props["$metadata"] = meta.empty() ? json::object() : meta;
    props["$version"] = version;
    return props;
  };
  return json{{"deviceId", device},
              {"etag", etag(t)},
              {"version", t.version},
              {"tags", t.tags},
              {"properties",
               {{"desired", section(t.desired, t.desired_meta, t.desired_version)},
                {"reported", section(t.reported, t.reported_meta, t.reported_version)}}}};
}

std::string TwinStore::check_patch(const json& patch, int depth) const {
  if (depth > limits_.max_depth) {
    return "the patch nests deeper than " + std::to_string(limits_.max_depth) + " levels";
  }
  for (const auto& [key, value] : patch.items()) {
    if (key.empty() || key.front() == '$' || key.find_first_of(". ") != std::string::npos) {
      return "property name '" + key + "' may not be empty, start with '$' or hold '.' or ' '";
    }
    if (value.is_object()) {
      if (auto why = check_patch(value, depth + 1); !why.empty()) return why;
    }
  }
  return {};
}

std::optional<TwinAnswer> TwinStore::over_limit(const json& section, const char* which) const {
  if (section.dump(-1, ' ', false, kJsonReplace).size() <= limits_.section_bytes) return {};
  return TwinAnswer{413, -1,
                    std::string(which) + " properties would exceed " +
                        std::to_string(limits_.section_bytes) + " bytes"};
}

TwinAnswer TwinStore::patch_reported(const std::string& device, std::string_view body,
                                     std::int64_t now_ms) {
  const auto patch = json::parse(body, nullptr, false);
  if (!patch.is_object()) return {400, -1, "the reported patch is not a JSON object"};
  if (auto why = check_patch(patch, 1); !why.empty()) return {400, -1, why};
  Twin t = twins_[device];  // a copy: an oversized result changes nothing
  merge(t.reported, t.reported_meta, patch, iso8601_utc(now_ms));
  if (auto refused = over_limit(t.reported, "reported")) return *refused;
  ++t.reported_version;
  ++t.version;
  const auto version = t.reported_version;
  twins_[device] = std::move(t);
  persist(device, twins_[device]);
  return {204, version, {}};
}

TwinAnswer TwinStore::patch_service(const std::string& device, const json& patch,
                                    std::string_view if_match, std::int64_t now_ms,
                                    json& desired_patch) {
  desired_patch = nullptr;
  if (!patch.is_object()) return {400, -1, "the twin patch is not a JSON object"};
  Twin t = twins_[device];
  if (!if_match.empty() && if_match != "*" && if_match != etag(t)) {
    return {412, -1, "the twin's etag is not " + std::string(if_match)};
  }
  const std::string when = iso8601_utc(now_ms);
  if (auto tags = patch.find("tags"); tags != patch.end() && tags->is_object()) {
    if (auto why = check_patch(*tags, 1); !why.empty()) return {400, -1, why};
    json ignored = json::object();
    merge(t.tags, ignored, *tags, when);
  }
  const json* desired = nullptr;
  if (auto props = patch.find("properties"); props != patch.end() && props->is_object()) {
    if (auto d = props->find("desired"); d != props->end() && d->is_object()) desired = &*d;
  }
  if (desired != nullptr && !desired->empty()) {
    if (auto why = check_patch(*desired, 1); !why.empty()) return {400, -1, why};
    merge(t.desired, t.desired_meta, *desired, when);
    if (auto refused = over_limit(t.desired, "desired")) return *refused;
    ++t.desired_version;
    desired_patch = with_version(*desired, t.desired_version);
  }
  ++t.version;
  const auto version = t.desired_version;
  twins_[device] = std::move(t);
  persist(device, twins_[device]);
  return {200, version, {}};
}

TwinAnswer TwinStore::replace_service(const std::string& device, const json& twin,
                                      std::string_view if_match, std::int64_t now_ms,
                                      json& desired_patch) {
  if (!twin.is_object()) return {400, -1, "the twin is not a JSON object"};
  const Twin current = twins_.count(device) != 0 ? twins_.at(device) : Twin{};
  json patch = json::object();
  patch["tags"] = patch_between(current.tags, twin.value("tags", json::object()));
  json desired = json::object();
  if (auto props = twin.find("properties"); props != twin.end() && props->is_object()) {
    desired = props->value("desired", json::object());
  }
  desired.erase("$metadata");
  desired.erase("$version");
  patch["properties"] = {{"desired", patch_between(current.desired, desired)}};
  return patch_service(device, patch, if_match, now_ms, desired_patch);
}

}  // namespace iotgw::hub
