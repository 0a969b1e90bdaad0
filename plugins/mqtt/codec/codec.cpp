#include "codec/codec.hpp"
#include "codec/topic_filter.hpp"

#include <stdexcept>

namespace iotgw::mqtt {

namespace {

// Thrown inside decode() only; decode() turns it into `malformed` with the message.
struct Malformed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads the variable header and payload of one packet, whose length is known.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> body) : body_(body) {}

  std::uint8_t byte(const char* what) {
    need(1, what);
    return body_[at_++];
  }
  std::uint16_t u16(const char* what) {
    need(2, what);
    const auto v = static_cast<std::uint16_t>(body_[at_] << 8 | body_[at_ + 1]);
    at_ += 2;
    return v;
  }
  std::string binary(const char* what) {
    const std::size_t n = u16(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(body_.data() + at_), n);
    at_ += n;
    return s;
  }
  std::string text(const char* what) {
    auto s = binary(what);
    if (!valid_mqtt_utf8(s)) throw Malformed(std::string(what) + " is not valid UTF-8");
    return s;
  }
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(body_.data() + at_), body_.size() - at_);
    at_ = body_.size();
    return s;
  }
  bool done() const { return at_ == body_.size(); }
  void expect_done(const char* packet) const {
    if (!done()) throw Malformed(std::string(packet) + " has bytes past its end");
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (body_.size() - at_ < n) throw Malformed(std::string(what) + " is truncated");
  }
  std::span<const std::uint8_t> body_;
  std::size_t at_ = 0;
};

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
  if (has_password && !has_username && c.level >= 4) {
    throw Malformed("password without user name");
  }
  c.keep_alive = r.u16("keep alive");
  c.client_id = r.text("client identifier");
  if (will) {
    Will w;
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

Publish read_publish(Reader& r, std::uint8_t flags) {
  Publish p;
  p.dup = (flags & 0x08) != 0;
  p.qos = static_cast<std::uint8_t>((flags >> 1) & 0x03);
  p.retain = (flags & 0x01) != 0;
  if (p.qos == 3) throw Malformed("PUBLISH with QoS 3");
  if (p.qos == 0 && p.dup) throw Malformed("PUBLISH QoS 0 with DUP set");
  p.topic = r.text("topic name");
  if (p.topic.empty()) throw Malformed("PUBLISH with an empty topic");
  if (p.topic.find_first_of("+#") != std::string::npos) {
    throw Malformed("PUBLISH topic '" + p.topic + "' has wildcards");
  }
  if (p.qos > 0) p.packet_id = packet_id(r, "PUBLISH");
  p.payload = r.rest();
  return p;
}

Subscribe read_subscribe(Reader& r) {
  Subscribe s;
  s.packet_id = packet_id(r, "SUBSCRIBE");
  while (!r.done()) {
    Subscription sub;
    sub.filter = r.text("topic filter");
    if (!valid_filter(sub.filter))
      throw Malformed("SUBSCRIBE filter '" + sub.filter + "' is empty or misplaces a wildcard");
    const auto options = r.byte("requested QoS");
    if ((options & 0xFC) != 0 || options == 3)
      throw Malformed("SUBSCRIBE requested QoS is invalid");
    sub.qos = options;
    s.subscriptions.push_back(std::move(sub));
  }
  if (s.subscriptions.empty()) throw Malformed("SUBSCRIBE without a filter");
  return s;
}

Unsubscribe read_unsubscribe(Reader& r) {
  Unsubscribe u;
  u.packet_id = packet_id(r, "UNSUBSCRIBE");
  while (!r.done()) {
    u.filters.push_back(r.text("topic filter"));
    if (!valid_filter(u.filters.back())) {
      throw Malformed("UNSUBSCRIBE filter '" + u.filters.back() +
                      "' is empty or misplaces a wildcard");
    }
  }
  if (u.filters.empty()) throw Malformed("UNSUBSCRIBE without a filter");
  return u;
}

Suback read_suback(Reader& r) {
  Suback s;
  s.packet_id = packet_id(r, "SUBACK");
  while (!r.done()) s.codes.push_back(r.byte("return code"));
  return s;
}

Packet read_body(PacketType type, std::uint8_t flags, Reader& r) {
  // 3.1.1 2.2.2: PUBREL, SUBSCRIBE and UNSUBSCRIBE carry flags 0010; every other type but
  // PUBLISH carries 0000.
  const bool needs_0010 = type == PacketType::pubrel || type == PacketType::subscribe ||
                          type == PacketType::unsubscribe;
  if (type != PacketType::publish && flags != (needs_0010 ? 0x02 : 0x00)) {
    throw Malformed("reserved flags set in the fixed header");
  }
  switch (type) {
    case PacketType::connect: return read_connect(r);
    case PacketType::connack: {
      Connack c;
      const auto ack_flags = r.byte("acknowledge flags");
      if ((ack_flags & 0xFE) != 0) throw Malformed("CONNACK reserved flags set");
      c.session_present = (ack_flags & 0x01) != 0;
      c.code = static_cast<ConnectCode>(r.byte("return code"));
      r.expect_done("CONNACK");
      return c;
    }
    case PacketType::publish: return read_publish(r, flags);
    case PacketType::puback:
    case PacketType::pubrec:
    case PacketType::pubrel:
    case PacketType::pubcomp:
    case PacketType::unsuback: {
      Ack a{type, packet_id(r, "acknowledgement")};
      r.expect_done("acknowledgement");
      return a;
    }
    case PacketType::subscribe: return read_subscribe(r);
    case PacketType::suback: return read_suback(r);
    case PacketType::unsubscribe: return read_unsubscribe(r);
    case PacketType::pingreq:
    case PacketType::pingresp:
    case PacketType::disconnect:
      r.expect_done("PINGREQ, PINGRESP or DISCONNECT");
      return Bare{type};
  }
  throw Malformed("unknown packet type");
}

void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// The variable header and payload of a packet, and its first byte.
struct Body {
  std::uint8_t first = 0;
  std::vector<std::uint8_t> bytes;
};

Body body_of(const Connect& c) {
  Body b{static_cast<std::uint8_t>(PacketType::connect) << 4, {}};
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
  put_string(b.bytes, c.client_id);
  if (c.will) {
    put_string(b.bytes, c.will->topic);
    put_string(b.bytes, c.will->payload);
  }
  if (c.username) put_string(b.bytes, *c.username);
  if (c.password) put_string(b.bytes, *c.password);
  return b;
}

Body body_of(const Connack& c) {
  return {
      static_cast<std::uint8_t>(PacketType::connack) << 4,
      {static_cast<std::uint8_t>(c.session_present ? 1 : 0), static_cast<std::uint8_t>(c.code)}};
}

Body body_of(const Publish& p) {
  Body b{static_cast<std::uint8_t>(static_cast<std::uint8_t>(PacketType::publish) << 4 |
                                   (p.dup ? 0x08 : 0) | p.qos << 1 | (p.retain ? 1 : 0)),
         {}};
  put_string(b.bytes, p.topic);
  if (p.qos > 0) put_u16(b.bytes, p.packet_id);
  b.bytes.insert(b.bytes.end(), p.payload.begin(), p.payload.end());
  return b;
}

Body body_of(const Ack& a) {
  Body b{static_cast<std::uint8_t>(static_cast<std::uint8_t>(a.type) << 4 |
                                   (a.type == PacketType::pubrel ? 0x02 : 0)),
         {}};
  put_u16(b.bytes, a.packet_id);
  return b;
}

Body body_of(const Subscribe& s) {
  Body b{static_cast<std::uint8_t>(PacketType::subscribe) << 4 | 0x02, {}};
  put_u16(b.bytes, s.packet_id);
  for (const auto& sub : s.subscriptions) {
    put_string(b.bytes, sub.filter);
    b.bytes.push_back(sub.qos);
  }
  return b;
}

Body body_of(const Suback& s) {
  Body b{static_cast<std::uint8_t>(PacketType::suback) << 4, {}};
  put_u16(b.bytes, s.packet_id);
  b.bytes.insert(b.bytes.end(), s.codes.begin(), s.codes.end());
  return b;
}

Body body_of(const Unsubscribe& u) {
  Body b{static_cast<std::uint8_t>(PacketType::unsubscribe) << 4 | 0x02, {}};
  put_u16(b.bytes, u.packet_id);
  for (const auto& f : u.filters) put_string(b.bytes, f);
  return b;
}

Body body_of(const Bare& p) {
  return {static_cast<std::uint8_t>(static_cast<std::uint8_t>(p.type) << 4), {}};
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

Decoded decode(std::span<const std::uint8_t> bytes, const DecodeLimits& limits, Packet& out,
               std::size_t& used, std::string& error) {
  used = 0;
  if (bytes.empty()) return Decoded::need_more;
  const auto type = static_cast<std::uint8_t>(bytes[0] >> 4);
  const auto flags = static_cast<std::uint8_t>(bytes[0] & 0x0F);
  if (type == 0 || type == 15) {
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
  if (header + remaining > limits.max_packet) {
    error = "packet of " + std::to_string(header + remaining) + " bytes is over the limit of " +
            std::to_string(limits.max_packet);
    return Decoded::malformed;
  }
  if (bytes.size() < header + remaining) return Decoded::need_more;
  try {
    Reader r(bytes.subspan(header, remaining));
    out = read_body(static_cast<PacketType>(type), flags, r);
  } catch (const Malformed& e) {
    error = e.what();
    return Decoded::malformed;
  }
  used = header + remaining;
  return Decoded::packet;
}

void encode(const Packet& packet, std::vector<std::uint8_t>& out) {
  const Body b = std::visit([](const auto& p) { return body_of(p); }, packet);
  out.push_back(b.first);
  std::size_t n = b.bytes.size();
  do {
    auto digit = static_cast<std::uint8_t>(n & 0x7F);
    n >>= 7;
    if (n > 0) digit |= 0x80;
    out.push_back(digit);
  } while (n > 0);
  out.insert(out.end(), b.bytes.begin(), b.bytes.end());
}

}  // namespace iotgw::mqtt
