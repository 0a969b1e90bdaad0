#include "bridge/message_codec.hpp"

#include "iotgw/common/amqp_text.hpp"
#include "iotgw/common/clock.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

#include <proton/annotation_key.hpp>
#include <proton/codec/decoder.hpp>
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

// Property and annotation sections are walked with a decoder, not decoded into a vector of
// proton::value pairs: each value holds its own pn_data, and a C2D message's conversion spent
// most of iotgw's CPU per message there (perf, `iotgw-bench c2d`). Strings, symbols, binary and
// numbers, which hubs send, are read in place; anything else as a value, as before.

// The value at the decoder as text, as amqp_text has it.
std::string next_text(proton::codec::decoder& d) {
  switch (d.next_type()) {
    case proton::STRING: {
      std::string s;
      d >> s;
      return s;
    }
    case proton::SYMBOL: {
      proton::symbol s;
      d >> s;
      return s;
    }
    case proton::BINARY: {
      proton::binary b;
      d >> b;
      return {b.begin(), b.end()};
    }
    case proton::BOOLEAN:
    case proton::UBYTE:
    case proton::BYTE:
    case proton::USHORT:
    case proton::SHORT:
    case proton::UINT:
    case proton::INT:
    case proton::ULONG:
    case proton::LONG:
    case proton::TIMESTAMP:
    case proton::FLOAT:
    case proton::DOUBLE: {
      proton::scalar s;
      d >> s;
      return proton::to_string(s);  // as proton::to_string of the value prints it
    }
    default: {
      proton::value v;
      d >> v;
      return amqp_text(v);
    }
  }
}

// A key as text: IoT Hub sends strings and symbols; anything else is written as Proton prints
// it.
std::string next_key(proton::codec::decoder& d) {
  const auto type = d.next_type();
  if (type == proton::STRING || type == proton::SYMBOL) return next_text(d);
  proton::value v;
  d >> v;
  return proton::to_string(v);
}

// Calls f(key, key type, decoder) for each entry of a map section; f reads the entry's value.
// A section that is there but not a map throws proton::conversion_error.
template <class F>
void each_entry(const proton::value& section, F&& f) {
  if (section.empty()) return;
  proton::codec::decoder d(section);
  proton::codec::start s;
  d >> s;
  if (s.type != proton::MAP) throw proton::conversion_error("not a map");
  for (std::size_t i = 0; i < s.size / 2; ++i) {
    const auto key_type = d.next_type();
    const std::string key = next_key(d);
    f(key, key_type, d);
  }
}

bool is_hub_count(const std::string& key, proton::type_id key_type) {
  return key_type == proton::SYMBOL && key == "iothub-deliverycount";
}

// The header's word on earlier deliveries, before IoT Hub's annotation is read.
std::uint32_t header_deliveries(const proton::message& m, bool trust_first_acquirer) {
  std::uint32_t count = m.delivery_count();
  if (trust_first_acquirer && !m.first_acquirer()) count = std::max<std::uint32_t>(count, 1);
  return count;
}

// IoT Hub's count, when its annotation is an integer: coercing a float (NaN, 1e300) to one is
// undefined (Fuzz.AmqpMessage).
std::optional<std::int64_t> next_hub_count(proton::codec::decoder& d, std::string& text) {
  if (!proton::type_id_is_integral(d.next_type())) {
    text = next_text(d);
    return std::nullopt;
  }
  proton::scalar s;
  d >> s;
  text = proton::to_string(s);
  return proton::coerce<std::int64_t>(s);
}

std::uint32_t with_hub_count(std::uint32_t count, std::optional<std::int64_t> hub) {
  if (hub && *hub > count)
    count = static_cast<std::uint32_t>(std::min<std::int64_t>(*hub, UINT32_MAX));
  return count;
}

// The conversion, and IoT Hub's count of earlier deliveries when `hub_count` is given.
iotgw_msg convert(const proton::message& m, const std::string& device_id,
                  std::optional<std::int64_t>* hub_count) {
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
  // types) and any key type where IoT Hub sends strings. A section that is not a map at all is
  // left out; the message still reaches the device. (Found by Fuzz.AmqpMessage: a list-valued
  // application property ended the bridge.) Entries are read in order, not into a map:
  // ordering keys of any type compares decoded values, and a crafted key made that take
  // seconds (Fuzz.AmqpMessage).
  auto& app = out.scope(IOTGW_PROP_APPLICATION);
  try {
    each_entry(m.properties().value(),
               [&](const std::string& key, proton::type_id, proton::codec::decoder& d) {
                 app.set(key, next_text(d));
               });
  } catch (const proton::conversion_error&) {
    app.clear();
  }
  auto& ann = out.scope(IOTGW_PROP_ANNOTATION);
  try {
    each_entry(m.message_annotations().value(),
               [&](const std::string& key, proton::type_id key_type, proton::codec::decoder& d) {
                 if (hub_count != nullptr && is_hub_count(key, key_type)) {
                   std::string text;
                   *hub_count = next_hub_count(d, text);
                   ann.set(key, std::move(text));
                 } else {
                   ann.set(key, next_text(d));
                 }
               });
  } catch (const proton::conversion_error&) {
    ann.clear();
    if (hub_count != nullptr) hub_count->reset();  // not a map: the header's count stands
  }
  return out;
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
  return convert(m, device_id, nullptr);
}

std::uint32_t earlier_deliveries(const proton::message& m, bool trust_first_acquirer) {
  return from_hub(m, {}, trust_first_acquirer).earlier_deliveries;
}

FromHub from_hub(const proton::message& m, const std::string& device_id,
                 bool trust_first_acquirer) {
  std::optional<std::int64_t> hub;
  FromHub out{convert(m, device_id, &hub), 0};
  out.earlier_deliveries = with_hub_count(header_deliveries(m, trust_first_acquirer), hub);
  return out;
}

}  // namespace iotgw::bridge
