#include "bridge/message_codec.hpp"

#include "iotgw/common/amqp_text.hpp"
#include "iotgw/common/clock.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include <proton/annotation_key.hpp>
#include <proton/codec/map.hpp>
#include <proton/codec/vector.hpp>
#include <proton/error.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/timestamp.hpp>
#include <proton/type_id.hpp>

namespace iotgw::bridge {

namespace {

// The system property absolute-expiry-time is ISO 8601 UTC, as IoT Hub's MQTT `$.exp` carries it
// (Azure's device SDKs write Date.toISOString()); Unix milliseconds are taken too. AMQP wants a
// timestamp. Before, the bridge dropped it both ways: a device's `$.exp` never reached the hub,
// and a C2D message's expiry never reached the device.
void set_expiry(proton::message& m, const std::string& v) {
  auto ms = parse_iso8601_utc(v);
  if (!ms && !v.empty() && v.size() <= 18 &&
      std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    ms = std::stoll(v);
  }
  if (ms) m.expiry_time(proton::timestamp(*ms));  // unreadable: left out, as before
}

// A property or annotation key as text: IoT Hub sends strings and symbols; anything else is
// written as Proton prints it.
std::string key_text(const proton::value& k) {
  return k.type() == proton::STRING ? proton::get<std::string>(k) : proton::to_string(k);
}

}  // namespace

void to_amqp(const iotgw_msg& msg, proton::message& m) {
  set_data_body(m, proton::binary(msg.body.begin(), msg.body.end()));
  for (const auto& [k, v] : msg.scope(IOTGW_PROP_SYSTEM)) {
    if (k == "message-id")
      m.id(proton::message_id(v));
    else if (k == "correlation-id")
      m.correlation_id(proton::message_id(v));
    else if (k == "content-type")
      m.content_type(v);
    else if (k == "content-encoding")
      m.content_encoding(v);
    else if (k == "user-id")
      m.user(v);
    else if (k == "to")
      m.to(v);
    else if (k == "absolute-expiry-time")
      set_expiry(m, v);
    else if (k == "subject")
      m.subject(v);
    else if (k == "reply-to")
      m.reply_to(v);
  }
  for (const auto& [k, v] : msg.scope(IOTGW_PROP_APPLICATION)) m.properties().put(k, v);
  for (const auto& [k, v] : msg.scope(IOTGW_PROP_ANNOTATION)) {
    m.message_annotations().put(proton::annotation_key(proton::symbol(k)), v);
  }
}

iotgw_msg from_amqp(const proton::message& m, const std::string& device_id) {
  iotgw_msg out;
  const std::string body = amqp_text(m.body());
  out.body.assign(body.begin(), body.end());
  out.device_id = device_id;
  auto& sys = out.scope(IOTGW_PROP_SYSTEM);
  if (!m.id().empty()) sys.set("message-id", proton::to_string(m.id()));
  if (!m.correlation_id().empty()) sys.set("correlation-id", proton::to_string(m.correlation_id()));
  if (!m.content_type().empty()) sys.set("content-type", m.content_type());
  if (!m.content_encoding().empty()) sys.set("content-encoding", m.content_encoding());
  if (!m.user().empty()) sys.set("user-id", m.user());
  if (!m.to().empty()) sys.set("to", m.to());
  if (m.expiry_time().milliseconds() != 0) {
    sys.set("absolute-expiry-time", iso8601_utc(m.expiry_time().milliseconds()));
  }
  // What a hub sends is read whatever its types: AMQP allows any value (lists, maps, described
  // types) and any key type where IoT Hub sends strings, and proton's property map throws on
  // them. A section that is not a map at all is left out; the message still reaches the device.
  // (Found by Fuzz.AmqpMessage: a list-valued application property ended the bridge.)
  try {
    // A list of pairs, not a map: ordering keys of any type compares decoded values, and a
    // crafted key made that take seconds (Fuzz.AmqpMessage).
    std::vector<std::pair<proton::value, proton::value>> props;
    proton::get(m.properties().value(), props);
    for (const auto& [k, v] : props) {
      out.scope(IOTGW_PROP_APPLICATION).set(key_text(k), amqp_text(v));
    }
  } catch (const proton::conversion_error&) {
    out.scope(IOTGW_PROP_APPLICATION).clear();
  }
  try {
    std::vector<std::pair<proton::value, proton::value>> ann;
    proton::get(m.message_annotations().value(), ann);
    for (const auto& [k, v] : ann) {
      out.scope(IOTGW_PROP_ANNOTATION).set(key_text(k), amqp_text(v));
    }
  } catch (const proton::conversion_error&) {
    out.scope(IOTGW_PROP_ANNOTATION).clear();
  }
  return out;
}

std::uint32_t earlier_deliveries(const proton::message& m, bool trust_first_acquirer) {
  std::uint32_t count = m.delivery_count();
  if (trust_first_acquirer && !m.first_acquirer()) count = std::max<std::uint32_t>(count, 1);
  try {
    if (m.message_annotations().empty()) return count;
    const proton::annotation_key key(proton::symbol("iothub-deliverycount"));
    if (!m.message_annotations().exists(key)) return count;
    const auto value = m.message_annotations().get(key);
    // An integer only: coercing a float (NaN, 1e300) to one is undefined (Fuzz.AmqpMessage).
    if (!proton::type_id_is_integral(value.type())) return count;
    const auto hub = proton::coerce<std::int64_t>(value);
    if (hub > count) count = static_cast<std::uint32_t>(std::min<std::int64_t>(hub, UINT32_MAX));
  } catch (const proton::conversion_error&) {
    // Not a number, or annotations keyed by other than symbols: the header's count stands.
  }
  return count;
}

}  // namespace iotgw::bridge
