// The codec's primitives: reading the body of one packet whose length is known, and appending
// the encodings MQTT uses. Errors are exceptions inside the codec only; decode() turns them into
// its result.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "codec/codec.hpp"

namespace iotgw::mqtt::wire {

struct Malformed : std::runtime_error {
  explicit Malformed(const std::string& what, Decoded how = Decoded::malformed)
      : std::runtime_error(what), kind(how) {}
  Decoded kind;
};

// A breach of a MUST that is not about the bytes' shape (MQTT 5's "Protocol Error").
inline Malformed protocol_error(const std::string& what) {
  return Malformed(what, Decoded::protocol_error);
}

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
  std::uint32_t u32(const char* what) {
    need(4, what);
    const auto v = static_cast<std::uint32_t>(body_[at_]) << 24 |
                   static_cast<std::uint32_t>(body_[at_ + 1]) << 16 |
                   static_cast<std::uint32_t>(body_[at_ + 2]) << 8 | body_[at_ + 3];
    at_ += 4;
    return v;
  }
  // At most four bytes, and no more than the value needs (MQTT 5 1.5.5).
  std::uint32_t varint(const char* what) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const auto b = byte(what);
      v |= static_cast<std::uint32_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) {
        if (i > 0 && b == 0) throw Malformed(std::string(what) + " is not minimally encoded");
        return v;
      }
    }
    throw Malformed(std::string(what) + " is longer than four bytes");
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
  // The next n bytes as a reader of their own (MQTT 5 properties).
  Reader sub(std::size_t n, const char* what) {
    need(n, what);
    Reader r(body_.subspan(at_, n));
    at_ += n;
    return r;
  }
  bool done() const { return at_ == body_.size(); }
  std::size_t left() const { return body_.size() - at_; }
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

inline void put_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
}

inline void put_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

inline void put_varint(std::vector<std::uint8_t>& out, std::size_t n) {
  do {
    auto digit = static_cast<std::uint8_t>(n & 0x7F);
    n >>= 7;
    if (n > 0) digit |= 0x80;
    out.push_back(digit);
  } while (n > 0);
}

inline void put_string(std::vector<std::uint8_t>& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace iotgw::mqtt::wire
