#include "codec/codec.hpp"

#include <algorithm>
#include <cstdio>

namespace iotgw::coap {

namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kPayloadMarker = 0xFF;
constexpr std::size_t kMaxToken = 8;

// An option's delta or length nibble and the bytes that extend it (RFC 7252 3.1): false for the
// reserved 15, or for extension bytes past the end.
bool read_extended(std::uint8_t nibble, std::span<const std::uint8_t> d, std::size_t& at,
                   std::uint32_t& value) {
  if (nibble < 13) {
    value = nibble;
    return true;
  }
  if (nibble == 13) {
    if (at + 1 > d.size()) return false;
    value = 13U + d[at];
    at += 1;
    return true;
  }
  if (nibble == 14) {
    if (at + 2 > d.size()) return false;
    value = 269U + (static_cast<std::uint32_t>(d[at]) << 8 | d[at + 1]);
    at += 2;
    return true;
  }
  return false;
}

std::uint8_t nibble_of(std::uint32_t value) {
  return value < 13 ? static_cast<std::uint8_t>(value) : value < 269 ? 13 : 14;
}

void put_extended(std::uint32_t value, std::vector<std::uint8_t>& out) {
  if (value >= 269) {
    const auto ext = value - 269;
    out.push_back(static_cast<std::uint8_t>(ext >> 8));
    out.push_back(static_cast<std::uint8_t>(ext & 0xFF));
  } else if (value >= 13) {
    out.push_back(static_cast<std::uint8_t>(value - 13));
  }
}

}  // namespace

std::string Code::str() const {
  char text[8];
  std::snprintf(text, sizeof text, "%u.%02u", static_cast<unsigned>(cls()),
                static_cast<unsigned>(detail()));
  return text;
}

const Option* Message::find(std::uint16_t number) const {
  const auto it = std::find_if(options.begin(), options.end(),
                               [number](const Option& o) { return o.number == number; });
  return it == options.end() ? nullptr : &*it;
}

std::vector<std::string> Message::all(std::uint16_t number) const {
  std::vector<std::string> values;
  for (const auto& o : options) {
    if (o.number == number) values.push_back(o.value);
  }
  return values;
}

void Message::add_uint(std::uint16_t number, std::uint32_t value) {
  add(number, encode_uint(value));
}

std::string encode_uint(std::uint32_t value) {
  std::string bytes;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const auto b = static_cast<char>((value >> shift) & 0xFF);
    if (!bytes.empty() || b != 0) bytes.push_back(b);
  }
  return bytes;
}

std::optional<std::uint32_t> decode_uint(const std::string& bytes) {
  if (bytes.size() > 4) return std::nullopt;
  std::uint32_t value = 0;
  for (const char c : bytes) value = value << 8 | static_cast<std::uint8_t>(c);
  return value;
}

std::uint32_t encode_block(const Block& block) {
  return block.num << 4 | (block.more ? 0x08U : 0U) | (block.szx & 0x07U);
}

std::optional<Block> decode_block(const std::string& bytes) {
  if (bytes.size() > 3) return std::nullopt;
  const auto value = decode_uint(bytes);
  if (!value) return std::nullopt;
  Block b;
  b.num = *value >> 4;
  b.more = (*value & 0x08) != 0;
  b.szx = static_cast<std::uint8_t>(*value & 0x07);
  if (b.szx == 7) return std::nullopt;
  return b;
}

Decoded decode(std::span<const std::uint8_t> d, Message& out, std::string& error) {
  out = Message{};
  if (d.size() < 4) {
    error = "datagram of " + std::to_string(d.size()) + " bytes is shorter than a CoAP header";
    return Decoded::not_coap;
  }
  if (d[0] >> 6 != kVersion) {
    error = "version " + std::to_string(d[0] >> 6) + " is not CoAP's 1";
    return Decoded::not_coap;
  }
  out.type = static_cast<Type>((d[0] >> 4) & 0x03);
  const std::size_t tkl = d[0] & 0x0F;
  out.code.value = d[1];
  out.id = static_cast<std::uint16_t>(d[2] << 8 | d[3]);
  const auto format_error = [&](std::string why) {
    error = std::move(why);
    return Decoded::format_error;
  };
  if (tkl > kMaxToken) return format_error("token length " + std::to_string(tkl) + " is reserved");
  if (out.code.cls() == 1 || out.code.cls() == 6 || out.code.cls() == 7) {
    return format_error("code class " + std::to_string(out.code.cls()) + " is reserved");
  }
  if (out.code.empty() && d.size() != 4) {
    return format_error("an empty message (0.00) carries " + std::to_string(d.size() - 4) +
                        " bytes after its header");
  }
  if (4 + tkl > d.size()) return format_error("the token runs past the datagram");
  out.token.assign(reinterpret_cast<const char*>(d.data() + 4), tkl);
  std::size_t at = 4 + tkl;
  std::uint32_t number = 0;
  while (at < d.size()) {
    const auto head = d[at++];
    if (head == kPayloadMarker) {
      if (at == d.size()) return format_error("a payload marker with no payload after it");
      out.payload.assign(reinterpret_cast<const char*>(d.data() + at), d.size() - at);
      return Decoded::message;
    }
    std::uint32_t delta = 0;
    std::uint32_t length = 0;
    if (!read_extended(static_cast<std::uint8_t>(head >> 4), d, at, delta)) {
      return format_error("option delta nibble 15, or its extension past the end");
    }
    if (!read_extended(static_cast<std::uint8_t>(head & 0x0F), d, at, length)) {
      return format_error("option length nibble 15, or its extension past the end");
    }
    number += delta;
    if (number > 0xFFFF)
      return format_error("option number " + std::to_string(number) + " is over 65535");
    if (at + length > d.size()) {
      return format_error("option " + std::to_string(number) + " of " + std::to_string(length) +
                          " bytes runs past the datagram");
    }
    out.options.push_back({static_cast<std::uint16_t>(number),
                           std::string(reinterpret_cast<const char*>(d.data() + at), length)});
    at += length;
  }
  return Decoded::message;
}

void encode(const Message& m, std::vector<std::uint8_t>& out) {
  out.push_back(static_cast<std::uint8_t>(kVersion << 6 | static_cast<std::uint8_t>(m.type) << 4 |
                                          (m.token.size() & 0x0F)));
  out.push_back(m.code.value);
  out.push_back(static_cast<std::uint8_t>(m.id >> 8));
  out.push_back(static_cast<std::uint8_t>(m.id & 0xFF));
  out.insert(out.end(), m.token.begin(), m.token.end());
  std::vector<const Option*> sorted;
  sorted.reserve(m.options.size());
  for (const auto& o : m.options) sorted.push_back(&o);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Option* a, const Option* b) { return a->number < b->number; });
  std::uint32_t number = 0;
  for (const auto* o : sorted) {
    const std::uint32_t delta = o->number - number;
    const auto length = static_cast<std::uint32_t>(o->value.size());
    out.push_back(static_cast<std::uint8_t>(nibble_of(delta) << 4 | nibble_of(length)));
    put_extended(delta, out);
    put_extended(length, out);
    out.insert(out.end(), o->value.begin(), o->value.end());
    number = o->number;
  }
  if (!m.payload.empty()) {
    out.push_back(kPayloadMarker);
    out.insert(out.end(), m.payload.begin(), m.payload.end());
  }
}

}  // namespace iotgw::coap
