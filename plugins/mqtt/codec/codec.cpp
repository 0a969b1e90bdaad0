#include "codec/codec.hpp"

#include "codec/properties.hpp"
#include "codec/topic_filter.hpp"
#include "codec/wire.hpp"

namespace iotgw::mqtt {

namespace {

using wire::Malformed;
using wire::protocol_error;
using wire::Reader;

bool is_v5(ProtocolLevel level) {
  return level == ProtocolLevel::v5;
}

std::uint16_t packet_id(Reader& r, const char* packet) {
  const auto id = r.u16("packet identifier");
  if (id == 0) throw Malformed(std::string(packet) + " has packet identifier 0");
  return id;
}

Connect read_connect(Reader& r) {
  Connect c;
  c.protocol_name = r.text("protocol name");
  c.level = r.byte("protocol level");
  if (c.protocol_name != "MQTT" && c.protocol_name != "MQIsdp") {
    throw Malformed("protocol name '" + c.protocol_name + "' is not MQTT");
  }
  const bool v5 = c.level == 5;
  const std::uint8_t flags = r.byte("connect flags");
  if ((flags & 0x01) != 0) throw Malformed("CONNECT reserved flag is set");
  c.clean_session = (flags & 0x02) != 0;
  const bool will = (flags & 0x04) != 0;
  const auto will_qos = static_cast<std::uint8_t>((flags >> 3) & 0x03);
  const bool will_retain = (flags & 0x20) != 0;
  const bool has_password = (flags & 0x40) != 0;
  const bool has_username = (flags & 0x80) != 0;
  if (will_qos == 3) throw Malformed("will QoS 3");
  if (!will && (will_qos != 0 || will_retain)) throw Malformed("will QoS or retain without a will");
  // MQTT 5 allows a password alone (3.1.2.9); 3.1.1 does not.
  if (has_password && !has_username && c.level == 4) {
    throw Malformed("password without user name");
  }
  c.keep_alive = r.u16("keep alive");
  if (v5) c.props = read_properties(r, PropertyPlace::connect);
  c.client_id = r.text("client identifier");
  if (will) {
    Will w;
    if (v5) w.props = read_properties(r, PropertyPlace::will);
    w.topic = r.text("will topic");
    if (w.topic.empty() || w.topic.find_first_of("+#") != std::string::npos) {
      throw Malformed("will topic '" + w.topic + "' is empty or has wildcards");
    }
    w.payload = r.binary("will message");
    w.qos = will_qos;
    w.retain = will_retain;
    c.will = std::move(w);
  }
  if (has_username) c.username = r.text("user name");
  if (has_password) c.password = r.binary("password");
  r.expect_done("CONNECT");
  return c;
}

Publish read_publish(Reader& r, std::uint8_t flags, ProtocolLevel level) {
  Publish p;
  p.dup = (flags & 0x08) != 0;
  p.qos = static_cast<std::uint8_t>((flags >> 1) & 0x03);
  p.retain = (flags & 0x01) != 0;
  if (p.qos == 3) throw Malformed("PUBLISH with QoS 3");
  if (p.qos == 0 && p.dup) throw Malformed("PUBLISH QoS 0 with DUP set");
  p.topic = r.text("topic name");
  if (p.topic.find_first_of("+#") != std::string::npos) {
    throw Malformed("PUBLISH topic '" + p.topic + "' has wildcards");
  }
  if (p.qos > 0) p.packet_id = packet_id(r, "PUBLISH");
  if (is_v5(level)) {
    p.props = read_properties(r, PropertyPlace::publish);
    // An empty topic stands for its alias; one without an alias is the engine's to refuse,
    // where the alias table is.
    if (p.topic.empty() && !p.props.topic_alias) {
      throw protocol_error("PUBLISH with an empty topic and no topic alias");
    }
  } else if (p.topic.empty()) {
    throw Malformed("PUBLISH with an empty topic");
  }
  p.payload = r.rest();
  return p;
}

Subscription read_subscription(Reader& r, ProtocolLevel level) {
  Subscription sub;
  sub.filter = r.text("topic filter");
  if (!valid_filter(sub.filter)) {
    throw Malformed("SUBSCRIBE filter '" + sub.filter + "' is empty or misplaces a wildcard");
  }
  const auto options = r.byte("subscription options");
  if (is_v5(level)) {
    if ((options & 0xC0) != 0) throw Malformed("SUBSCRIBE options' reserved bits are set");
    sub.qos = options & 0x03;
    sub.no_local = (options & 0x04) != 0;
    sub.retain_as_published = (options & 0x08) != 0;
    sub.retain_handling = static_cast<std::uint8_t>((options >> 4) & 0x03);
    if (sub.retain_handling == 3) throw protocol_error("SUBSCRIBE retain handling 3");
    if (sub.qos == 3) throw Malformed("SUBSCRIBE maximum QoS 3");
    return sub;
  }
  if ((options & 0xFC) != 0 || options == 3) {
    throw Malformed("SUBSCRIBE requested QoS is invalid");
  }
  sub.qos = options;
  return sub;
}

Subscribe read_subscribe(Reader& r, ProtocolLevel level) {
  Subscribe s;
  s.packet_id = packet_id(r, "SUBSCRIBE");
  if (is_v5(level)) s.props = read_properties(r, PropertyPlace::subscribe);
  while (!r.done()) s.subscriptions.push_back(read_subscription(r, level));
  if (s.subscriptions.empty()) throw protocol_error("SUBSCRIBE without a filter");
  return s;
}

Unsubscribe read_unsubscribe(Reader& r, ProtocolLevel level) {
  Unsubscribe u;
  u.packet_id = packet_id(r, "UNSUBSCRIBE");
  if (is_v5(level)) u.props = read_properties(r, PropertyPlace::unsubscribe);
  while (!r.done()) {
    u.filters.push_back(r.text("topic filter"));
    if (!valid_filter(u.filters.back())) {
      throw Malformed("UNSUBSCRIBE filter '" + u.filters.back() +
                      "' is empty or misplaces a wildcard");
    }
  }
  if (u.filters.empty()) throw protocol_error("UNSUBSCRIBE without a filter");
  return u;
}

Connack read_connack(Reader& r, ProtocolLevel level) {
  Connack c;
  const auto ack_flags = r.byte("acknowledge flags");
  if ((ack_flags & 0xFE) != 0) throw Malformed("CONNACK reserved flags set");
  c.session_present = (ack_flags & 0x01) != 0;
  const auto code = r.byte("return code");
  if (is_v5(level)) {
    c.reason = code;
    c.props = read_properties(r, PropertyPlace::connack);
  } else {
    c.code = static_cast<ConnectCode>(code);
  }
  r.expect_done("CONNACK");
  return c;
}

// PUBACK, PUBREC, PUBREL, PUBCOMP: MQTT 5 leaves out the reason (success) and the properties
// (none) when they are the defaults.
Ack read_ack(Reader& r, PacketType type, ProtocolLevel level) {
  Ack a{type, packet_id(r, "acknowledgement")};
  if (is_v5(level) && !r.done()) {
    a.reason = r.byte("reason code");
    if (!r.done()) a.props = read_properties(r, PropertyPlace::pub_ack);
  }
  r.expect_done("acknowledgement");
  return a;
}

// SUBACK and UNSUBACK: a packet id, MQTT 5 properties, a code per filter.
template <typename T>
T read_sub_ack(Reader& r, ProtocolLevel level, PropertyPlace place) {
  T t;
  t.packet_id = packet_id(r, "SUBACK or UNSUBACK");
  if (is_v5(level)) t.props = read_properties(r, place);
  if (is_v5(level) || place == PropertyPlace::suback) {
    while (!r.done()) t.codes.push_back(r.byte("reason code"));
  }
  r.expect_done("UNSUBACK");
  return t;
}

// DISCONNECT and AUTH: in MQTT 5 a reason and properties, each left out when the default.
template <typename T>
T read_reasoned(Reader& r, ProtocolLevel level, PropertyPlace place) {
  T t;
  if (is_v5(level) && !r.done()) {
    t.reason = r.byte("reason code");
    if (!r.done()) t.props = read_properties(r, place);
  }
  r.expect_done("DISCONNECT or AUTH");
  return t;
}

Packet read_body(PacketType type, std::uint8_t flags, Reader& r, ProtocolLevel level) {
  // 2.2.2 (both versions): PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0010; every other type
  // but PUBLISH carries 0000.
  const bool needs_0010 = type == PacketType::pubrel || type == PacketType::subscribe ||
                          type == PacketType::unsubscribe;
  if (type != PacketType::publish && flags != (needs_0010 ? 0x02 : 0x00)) {
    throw Malformed("reserved flags set in the fixed header");
  }
  switch (type) {
    case PacketType::connect: return read_connect(r);
    case PacketType::connack: return read_connack(r, level);
    case PacketType::publish: return read_publish(r, flags, level);
    case PacketType::puback:
    case PacketType::pubrec:
    case PacketType::pubrel:
    case PacketType::pubcomp: return read_ack(r, type, level);
    case PacketType::subscribe: return read_subscribe(r, level);
    case PacketType::suback: return read_sub_ack<Suback>(r, level, PropertyPlace::suback);
    case PacketType::unsubscribe: return read_unsubscribe(r, level);
    case PacketType::unsuback: return read_sub_ack<Unsuback>(r, level, PropertyPlace::unsuback);
    case PacketType::pingreq:
    case PacketType::pingresp: r.expect_done("PINGREQ or PINGRESP"); return Bare{type};
    case PacketType::disconnect:
      return read_reasoned<Disconnect>(r, level, PropertyPlace::disconnect);
    case PacketType::auth: return read_reasoned<Auth>(r, level, PropertyPlace::auth);
  }
  throw Malformed("unknown packet type");
}

using wire::put_string;
using wire::put_u16;

// The variable header and payload of a packet, and its first byte.
struct Body {
  std::uint8_t first = 0;
  std::vector<std::uint8_t> bytes;
};

std::uint8_t first_byte(PacketType type, std::uint8_t flags = 0) {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(type) << 4 | flags);
}

Body body_of(const Connect& c, ProtocolLevel /*level*/) {
  const bool v5 = c.level == 5;
  Body b{first_byte(PacketType::connect), {}};
  put_string(b.bytes, c.protocol_name);
  b.bytes.push_back(c.level);
  std::uint8_t flags = c.clean_session ? 0x02 : 0x00;
  if (c.will) {
    flags =
        static_cast<std::uint8_t>(flags | 0x04 | (c.will->qos << 3) | (c.will->retain ? 0x20 : 0));
  }
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  b.bytes.push_back(flags);
  put_u16(b.bytes, c.keep_alive);
  if (v5) write_properties(b.bytes, c.props);
  put_string(b.bytes, c.client_id);
  if (c.will) {
    if (v5) write_properties(b.bytes, c.will->props);
    put_string(b.bytes, c.will->topic);
    put_string(b.bytes, c.will->payload);
  }
  if (c.username) put_string(b.bytes, *c.username);
  if (c.password) put_string(b.bytes, *c.password);
  return b;
}

Body body_of(const Connack& c, ProtocolLevel level) {
  Body b{first_byte(PacketType::connack), {static_cast<std::uint8_t>(c.session_present ? 1 : 0)}};
  if (is_v5(level)) {
    b.bytes.push_back(c.reason);
    write_properties(b.bytes, c.props);
  } else {
    b.bytes.push_back(static_cast<std::uint8_t>(c.code));
  }
  return b;
}

Body body_of(const Publish& p, ProtocolLevel level) {
  Body b{first_byte(PacketType::publish, static_cast<std::uint8_t>((p.dup ? 0x08 : 0) | p.qos << 1 |
                                                                   (p.retain ? 1 : 0))),
         {}};
  b.bytes.reserve(p.topic.size() + p.payload.size() + 8);
  put_string(b.bytes, p.topic);
  if (p.qos > 0) put_u16(b.bytes, p.packet_id);
  if (is_v5(level)) write_properties(b.bytes, p.props);
  b.bytes.insert(b.bytes.end(), p.payload.begin(), p.payload.end());
  return b;
}

bool has_properties(const PacketProperties& p) {
  return p.reason_string || !p.user.empty() || p.session_expiry || p.server_reference;
}

Body body_of(const Ack& a, ProtocolLevel level) {
  Body b{first_byte(a.type, a.type == PacketType::pubrel ? 0x02 : 0), {}};
  put_u16(b.bytes, a.packet_id);
  if (is_v5(level) && (a.reason != 0 || has_properties(a.props))) {
    b.bytes.push_back(a.reason);
    if (has_properties(a.props)) write_properties(b.bytes, a.props);
  }
  return b;
}

Body body_of(const Subscribe& s, ProtocolLevel level) {
  Body b{first_byte(PacketType::subscribe, 0x02), {}};
  put_u16(b.bytes, s.packet_id);
  if (is_v5(level)) write_properties(b.bytes, s.props);
  for (const auto& sub : s.subscriptions) {
    put_string(b.bytes, sub.filter);
    b.bytes.push_back(static_cast<std::uint8_t>(sub.qos | (sub.no_local ? 0x04 : 0) |
                                                (sub.retain_as_published ? 0x08 : 0) |
                                                sub.retain_handling << 4));
  }
  return b;
}

template <typename T>
Body sub_ack_body(PacketType type, const T& t, ProtocolLevel level) {
  Body b{first_byte(type), {}};
  put_u16(b.bytes, t.packet_id);
  if (is_v5(level)) write_properties(b.bytes, t.props);
  if (is_v5(level) || type == PacketType::suback) {
    b.bytes.insert(b.bytes.end(), t.codes.begin(), t.codes.end());
  }
  return b;
}

Body body_of(const Suback& s, ProtocolLevel level) {
  return sub_ack_body(PacketType::suback, s, level);
}

Body body_of(const Unsuback& u, ProtocolLevel level) {
  return sub_ack_body(PacketType::unsuback, u, level);
}

Body body_of(const Unsubscribe& u, ProtocolLevel level) {
  Body b{first_byte(PacketType::unsubscribe, 0x02), {}};
  put_u16(b.bytes, u.packet_id);
  if (is_v5(level)) write_properties(b.bytes, u.props);
  for (const auto& f : u.filters) put_string(b.bytes, f);
  return b;
}

Body body_of(const Bare& p, ProtocolLevel /*level*/) {
  return {first_byte(p.type), {}};
}

template <typename T>
Body reasoned_body(PacketType type, const T& t, ProtocolLevel level) {
  Body b{first_byte(type), {}};
  if (is_v5(level) && (t.reason != 0 || has_properties(t.props) || t.props.auth_method)) {
    b.bytes.push_back(t.reason);
    write_properties(b.bytes, t.props);
  }
  return b;
}

Body body_of(const Disconnect& d, ProtocolLevel level) {
  return reasoned_body(PacketType::disconnect, d, level);
}

Body body_of(const Auth& a, ProtocolLevel level) {
  return reasoned_body(PacketType::auth, a, level);
}

}  // namespace

bool valid_mqtt_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Decoded decode(std::span<const std::uint8_t> bytes, const DecodeOptions& options, Packet& out,
               std::size_t& used, std::string& error) {
  used = 0;
  if (bytes.empty()) return Decoded::need_more;
  const auto type = static_cast<std::uint8_t>(bytes[0] >> 4);
  const auto flags = static_cast<std::uint8_t>(bytes[0] & 0x0F);
  if (type == 0 || (type == 15 && !is_v5(options.level))) {
    error = "packet type " + std::to_string(type) + " is reserved";
    return Decoded::malformed;
  }
  // Remaining length: at most four bytes of seven bits each.
  std::size_t remaining = 0;
  std::size_t header = 1;
  for (int shift = 0;; shift += 7) {
    if (header > 4) {
      error = "remaining length longer than four bytes";
      return Decoded::malformed;
    }
    if (bytes.size() <= header) return Decoded::need_more;
    const auto b = bytes[header++];
    remaining |= static_cast<std::size_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) break;
  }
  if (header + remaining > options.max_packet) {
    error = "packet of " + std::to_string(header + remaining) + " bytes is over the limit of " +
            std::to_string(options.max_packet);
    return Decoded::too_large;
  }
  if (bytes.size() < header + remaining) return Decoded::need_more;
  try {
    Reader r(bytes.subspan(header, remaining));
    out = read_body(static_cast<PacketType>(type), flags, r, options.level);
  } catch (const Malformed& e) {
    error = e.what();
    return e.kind;
  }
  used = header + remaining;
  return Decoded::packet;
}

void encode(const Packet& packet, std::vector<std::uint8_t>& out, ProtocolLevel level) {
  const Body b = std::visit([level](const auto& p) { return body_of(p, level); }, packet);
  out.push_back(b.first);
  wire::put_varint(out, b.bytes.size());
  out.insert(out.end(), b.bytes.begin(), b.bytes.end());
}

}  // namespace iotgw::mqtt
