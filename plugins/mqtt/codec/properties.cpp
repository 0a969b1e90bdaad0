#include "codec/properties.hpp"

#include <array>
#include <variant>

namespace iotgw::mqtt {

namespace {

using wire::Malformed;
using wire::protocol_error;
using P = PacketProperties;

enum class Kind : std::uint8_t { byte, flag, u16, nonzero_u16, u32, nonzero_u32, text, binary };

using Member = std::variant<std::optional<std::uint8_t> P::*, std::optional<std::uint16_t> P::*,
                            std::optional<std::uint32_t> P::*, std::optional<std::string> P::*>;

constexpr std::uint16_t bit(PropertyPlace p) {
  return static_cast<std::uint16_t>(1U << static_cast<unsigned>(p));
}
constexpr std::uint16_t kMessage = bit(PropertyPlace::publish) | bit(PropertyPlace::will);
constexpr std::uint16_t kReasoned = bit(PropertyPlace::connack) | bit(PropertyPlace::pub_ack) |
                                    bit(PropertyPlace::suback) | bit(PropertyPlace::unsuback) |
                                    bit(PropertyPlace::disconnect) | bit(PropertyPlace::auth);

struct Spec {
  std::uint8_t id;
  const char* name;
  Kind kind;
  std::uint16_t places;
  Member member;
};

// Section 2.2.2.2's table, in the order properties are written. User properties (0x26) and
// subscription identifiers (0x0B) repeat, so they are read and written apart from this table.
const std::array<Spec, 25> kSpecs{{
    {0x01, "payload format indicator", Kind::flag, kMessage, &P::payload_format},
    {0x02, "message expiry interval", Kind::u32, kMessage, &P::message_expiry},
    {0x03, "content type", Kind::text, kMessage, &P::content_type},
    {0x08, "response topic", Kind::text, kMessage, &P::response_topic},
    {0x09, "correlation data", Kind::binary, kMessage, &P::correlation_data},
    {0x11, "session expiry interval", Kind::u32,
     bit(PropertyPlace::connect) | bit(PropertyPlace::connack) | bit(PropertyPlace::disconnect),
     &P::session_expiry},
    {0x12, "assigned client identifier", Kind::text, bit(PropertyPlace::connack),
     &P::assigned_client_id},
    {0x13, "server keep alive", Kind::u16, bit(PropertyPlace::connack), &P::server_keep_alive},
    {0x15, "authentication method", Kind::text,
     bit(PropertyPlace::connect) | bit(PropertyPlace::connack) | bit(PropertyPlace::auth),
     &P::auth_method},
    {0x16, "authentication data", Kind::binary,
     bit(PropertyPlace::connect) | bit(PropertyPlace::connack) | bit(PropertyPlace::auth),
     &P::auth_data},
    {0x17, "request problem information", Kind::flag, bit(PropertyPlace::connect),
     &P::request_problem_info},
    {0x18, "will delay interval", Kind::u32, bit(PropertyPlace::will), &P::will_delay},
    {0x19, "request response information", Kind::flag, bit(PropertyPlace::connect),
     &P::request_response_info},
    {0x1A, "response information", Kind::text, bit(PropertyPlace::connack), &P::response_info},
    {0x1C, "server reference", Kind::text,
     bit(PropertyPlace::connack) | bit(PropertyPlace::disconnect), &P::server_reference},
    {0x1F, "reason string", Kind::text, kReasoned, &P::reason_string},
    {0x21, "receive maximum", Kind::nonzero_u16,
     bit(PropertyPlace::connect) | bit(PropertyPlace::connack), &P::receive_maximum},
    {0x22, "topic alias maximum", Kind::u16,
     bit(PropertyPlace::connect) | bit(PropertyPlace::connack), &P::topic_alias_maximum},
    {0x23, "topic alias", Kind::u16, bit(PropertyPlace::publish), &P::topic_alias},
    {0x24, "maximum QoS", Kind::flag, bit(PropertyPlace::connack), &P::maximum_qos},
    {0x25, "retain available", Kind::flag, bit(PropertyPlace::connack), &P::retain_available},
    {0x27, "maximum packet size", Kind::nonzero_u32,
     bit(PropertyPlace::connect) | bit(PropertyPlace::connack), &P::maximum_packet_size},
    {0x28, "wildcard subscription available", Kind::flag, bit(PropertyPlace::connack),
     &P::wildcard_available},
    {0x29, "subscription identifiers available", Kind::flag, bit(PropertyPlace::connack),
     &P::subscription_ids_available},
    {0x2A, "shared subscription available", Kind::flag, bit(PropertyPlace::connack),
     &P::shared_available},
}};

constexpr std::uint8_t kSubscriptionId = 0x0B;
constexpr std::uint8_t kUserProperty = 0x26;
constexpr std::uint32_t kMaxSubscriptionId = 268'435'455;

const Spec* spec_of(std::uint8_t id) {
  for (const auto& s : kSpecs) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

void read_one(wire::Reader& r, const Spec& s, P& props) {
  std::visit(
      [&](auto member) {
        auto& slot = props.*member;
        if (slot) throw protocol_error(std::string(s.name) + " appears twice");
        using T = typename std::remove_reference_t<decltype(slot)>::value_type;
        if constexpr (std::is_same_v<T, std::string>) {
          slot = s.kind == Kind::text ? r.text(s.name) : r.binary(s.name);
        } else if constexpr (std::is_same_v<T, std::uint8_t>) {
          slot = r.byte(s.name);
          if (s.kind == Kind::flag && *slot > 1) {
            throw protocol_error(std::string(s.name) + " is " + std::to_string(*slot) +
                                 ", not 0 or 1");
          }
        } else {
          slot = std::is_same_v<T, std::uint16_t> ? r.u16(s.name) : r.u32(s.name);
          if ((s.kind == Kind::nonzero_u16 || s.kind == Kind::nonzero_u32) && *slot == 0) {
            throw protocol_error(std::string(s.name) + " is 0");
          }
        }
      },
      s.member);
}

void write_one(std::vector<std::uint8_t>& out, const Spec& s, const P& props) {
  std::visit(
      [&](auto member) {
        const auto& slot = props.*member;
        if (!slot) return;
        out.push_back(s.id);
        using T = typename std::remove_cvref_t<decltype(slot)>::value_type;
        if constexpr (std::is_same_v<T, std::string>) {
          wire::put_string(out, *slot);
        } else if constexpr (std::is_same_v<T, std::uint8_t>) {
          out.push_back(*slot);
        } else if constexpr (std::is_same_v<T, std::uint16_t>) {
          wire::put_u16(out, *slot);
        } else {
          wire::put_u32(out, *slot);
        }
      },
      s.member);
}

}  // namespace

PacketProperties read_properties(wire::Reader& r, PropertyPlace place) {
  const auto length = r.varint("property length");
  auto in = r.sub(length, "properties");
  PacketProperties props;
  while (!in.done()) {
    // Identifiers are variable byte integers; every one defined fits in one byte.
    const auto id = in.varint("property identifier");
    if (id == kUserProperty) {
      auto name = in.text("user property name");
      props.user.emplace_back(std::move(name), in.text("user property value"));
      continue;
    }
    if (id == kSubscriptionId) {
      if (place != PropertyPlace::publish && place != PropertyPlace::subscribe) {
        throw protocol_error("subscription identifier is not allowed here");
      }
      const auto sid = in.varint("subscription identifier");
      if (sid == 0) throw protocol_error("subscription identifier is 0");
      if (place == PropertyPlace::subscribe && !props.subscription_ids.empty()) {
        throw protocol_error("subscription identifier appears twice");
      }
      props.subscription_ids.push_back(sid);
      continue;
    }
    const Spec* s = id <= 0xFF ? spec_of(static_cast<std::uint8_t>(id)) : nullptr;
    if (s == nullptr) throw Malformed("unknown property identifier " + std::to_string(id));
    if ((s->places & bit(place)) == 0) {
      throw protocol_error(std::string(s->name) + " is not allowed in this packet");
    }
    read_one(in, *s, props);
  }
  return props;
}

void write_properties(std::vector<std::uint8_t>& out, const PacketProperties& props) {
  std::vector<std::uint8_t> body;
  for (const auto& s : kSpecs) write_one(body, s, props);
  for (const auto sid : props.subscription_ids) {
    body.push_back(kSubscriptionId);
    wire::put_varint(body, std::min(sid, kMaxSubscriptionId));
  }
  for (const auto& [name, value] : props.user) {
    body.push_back(kUserProperty);
    wire::put_string(body, name);
    wire::put_string(body, value);
  }
  wire::put_varint(out, body.size());
  out.insert(out.end(), body.begin(), body.end());
}

}  // namespace iotgw::mqtt
