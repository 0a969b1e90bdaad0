#include "iothub_operations.hpp"

#include <array>
#include <charconv>

#include "iotgw/common/sas_token.hpp"

namespace iotgw::mqtt {

namespace {

constexpr std::string_view kTwin = "$iothub/twin/";
constexpr std::string_view kMethods = "$iothub/methods/";
constexpr std::string_view kMethodResponse = "$iothub/methods/res/";

// What follows a request topic's prefix: the resource path and, after '?', the property bag.
// SDKs write `GET/?$rid=`; a missing slash before '?' means the same.
struct RequestParts {
  std::string_view path, bag;
};
RequestParts split_request(std::string_view rest) {
  const auto mark = rest.find('?');
  auto path = rest.substr(0, mark);
  if (path.ends_with('/')) path.remove_suffix(1);
  return {path, mark == std::string_view::npos ? std::string_view{} : rest.substr(mark + 1)};
}

// The first `$rid` of a bag, undecoded: the device matches the echo against what it sent. The
// key may come as `%24rid`.
std::string_view rid_of(std::string_view bag) {
  while (!bag.empty()) {
    const auto amp = bag.find('&');
    const auto item = bag.substr(0, amp);
    bag = amp == std::string_view::npos ? std::string_view{} : bag.substr(amp + 1);
    const auto eq = item.find('=');
    if (eq != std::string_view::npos && sas::url_decode(item.substr(0, eq)) == "$rid") {
      return item.substr(eq + 1);
    }
  }
  return {};
}

template <typename Int>
std::optional<Int> whole_number(std::string_view text, int base = 10) {
  Int value{};
  const auto* end = text.data() + text.size();
  const auto [at, error] = std::from_chars(text.data(), end, value, base);
  if (text.empty() || error != std::errc{} || at != end) return std::nullopt;
  return value;
}

std::string method_rid(std::uint64_t call) {
  std::array<char, 16> digits{};
  const auto [end, error] = std::to_chars(digits.begin(), digits.end(), call, 16);
  return {digits.begin(), end};
}

DeviceRequest unanswerable(std::string why) {
  return {.kind = DeviceRequest::Kind::unanswerable, .rid = {}, .status = 0, .why = std::move(why)};
}

}  // namespace

std::optional<DeviceRequest> parse_device_request(std::string_view topic) {
  using Kind = DeviceRequest::Kind;
  if (topic.starts_with(kTwin)) {
    const auto [path, bag] = split_request(topic.substr(kTwin.size()));
    const auto rid = rid_of(bag);
    if (rid.empty()) return unanswerable("twin request '" + std::string(topic) + "' has no $rid");
    const auto kind = path == "GET"                         ? Kind::twin_get
                      : path == "PATCH/properties/reported" ? Kind::reported_patch
                                                            : Kind::twin_unknown;
    return DeviceRequest{.kind = kind, .rid = std::string(rid), .status = 0, .why = {}};
  }
  if (topic.starts_with(kMethodResponse)) {
    const auto [path, bag] = split_request(topic.substr(kMethodResponse.size()));
    const auto rid = rid_of(bag);
    const auto status = whole_number<int>(path);
    if (rid.empty() || !status) {
      return unanswerable("method response '" + std::string(topic) +
                          "' lacks a $rid or an integer status");
    }
    return DeviceRequest{
        .kind = Kind::method_response, .rid = std::string(rid), .status = *status, .why = {}};
  }
  if (topic.starts_with(kMethods)) {
    return unanswerable("'" + std::string(topic) + "' is not a method response");
  }
  return std::nullopt;
}

HubFilter hub_filter(std::string_view filter) {
  if (filter == "$iothub/twin/res/#") return HubFilter::twin_responses;
  if (filter == "$iothub/twin/PATCH/properties/desired/#") return HubFilter::desired_patches;
  if (filter == "$iothub/methods/POST/#") return HubFilter::methods;
  return HubFilter::none;
}

std::string twin_response_topic(int status, std::string_view rid, std::int64_t version) {
  auto topic = "$iothub/twin/res/" + std::to_string(status) + "/?$rid=" + std::string(rid);
  if (version >= 0) topic += "&$version=" + std::to_string(version);
  return topic;
}

std::string desired_patch_topic(std::int64_t version) {
  std::string topic = "$iothub/twin/PATCH/properties/desired/";
  if (version >= 0) topic += "?$version=" + std::to_string(version);
  return topic;
}

std::optional<std::string> method_call_topic(std::string_view name, std::uint64_t call) {
  constexpr std::string_view kBreaksTheTopic{"/?+#\0", 5};
  if (name.empty() || name.find_first_of(kBreaksTheTopic) != std::string_view::npos) {
    return std::nullopt;
  }
  return "$iothub/methods/POST/" + std::string(name) + "/?$rid=" + method_rid(call);
}

std::optional<std::uint64_t> method_call_of(std::string_view rid) {
  const auto call = whole_number<std::uint64_t>(rid, 16);
  // Only the spelling we wrote: "0a" or "A" names no call.
  if (!call || method_rid(*call) != rid) return std::nullopt;
  return call;
}

}  // namespace iotgw::mqtt
