// CoAP messages as values (RFC 7252 section 3): what the decoder produces from one datagram and
// the encoder turns back into one. Options stay in number order, as the wire has them; what an
// option means is the engine's business (option_numbers and block below help it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace iotgw::coap {

enum class Type : std::uint8_t { con = 0, non = 1, ack = 2, rst = 3 };

// A code as class.detail: 0.00 empty, 0.01-0.04 requests, 2.xx-5.xx responses.
struct Code {
  std::uint8_t value = 0;
  constexpr Code() = default;
  constexpr Code(std::uint8_t cls, std::uint8_t detail)
      : value(static_cast<std::uint8_t>(cls << 5 | detail)) {}
  constexpr std::uint8_t cls() const { return value >> 5; }
  constexpr std::uint8_t detail() const { return value & 0x1F; }
  constexpr bool empty() const { return value == 0; }
  constexpr bool request() const { return cls() == 0 && detail() != 0; }
  constexpr bool operator==(const Code&) const = default;
  std::string str() const;  // "2.04"
};

namespace code {
inline constexpr Code empty{0, 0};
inline constexpr Code get{0, 1}, post{0, 2}, put{0, 3}, del{0, 4};
inline constexpr Code created{2, 1}, deleted{2, 2}, valid{2, 3}, changed{2, 4}, content{2, 5},
    continue_{2, 31};
inline constexpr Code bad_request{4, 0}, unauthorized{4, 1}, bad_option{4, 2}, forbidden{4, 3},
    not_found{4, 4}, method_not_allowed{4, 5}, request_entity_incomplete{4, 8},
    request_entity_too_large{4, 13}, unsupported_content_format{4, 15}, too_many_requests{4, 29};
inline constexpr Code internal_server_error{5, 0}, service_unavailable{5, 3}, gateway_timeout{5, 4};
}  // namespace code

// Option numbers this adapter reads or writes (RFC 7252 5.10, RFC 7641, RFC 7959).
namespace option {
inline constexpr std::uint16_t if_match = 1, uri_host = 3, etag = 4, if_none_match = 5, observe = 6,
                               uri_port = 7, location_path = 8, uri_path = 11, content_format = 12,
                               max_age = 14, uri_query = 15, accept = 17, location_query = 20,
                               block2 = 23, block1 = 27, size2 = 28, proxy_uri = 35,
                               proxy_scheme = 39, size1 = 60;
// Critical options (odd numbers) a server must understand or refuse with 4.02 (5.4.1).
constexpr bool critical(std::uint16_t number) {
  return (number & 1) != 0;
}
}  // namespace option

struct Option {
  std::uint16_t number = 0;
  std::string value;  // bytes
  bool operator==(const Option&) const = default;
};

struct Message {
  Type type = Type::con;
  Code code;
  std::uint16_t id = 0;
  std::string token;            // 0 to 8 bytes
  std::vector<Option> options;  // sorted by number (the encoder sorts stably)
  std::string payload;

  // The first option with this number, or nullptr.
  const Option* find(std::uint16_t number) const;
  // Every value of a repeatable option (Uri-Path, Uri-Query), in order.
  std::vector<std::string> all(std::uint16_t number) const;
  void add(std::uint16_t number, std::string value) {
    options.push_back({number, std::move(value)});
  }
  void add_uint(std::uint16_t number, std::uint32_t value);
};

// uint option values: big-endian in as few bytes as the value needs (zero: no bytes).
std::string encode_uint(std::uint32_t value);
std::optional<std::uint32_t> decode_uint(const std::string& bytes);  // nullopt: over 4 bytes

// Block1 and Block2 (RFC 7959 2.2): block number, more flag, size exponent (size 2^(szx+4)).
struct Block {
  std::uint32_t num = 0;
  bool more = false;
  std::uint8_t szx = 6;  // 1024 bytes
  std::size_t size() const { return std::size_t{16} << szx; }
  std::size_t offset() const { return size() * num; }
};
std::uint32_t encode_block(const Block& block);
// nullopt for a value over 3 bytes, a block number over 2^20 - 1, or the reserved size 7.
std::optional<Block> decode_block(const std::string& bytes);

}  // namespace iotgw::coap
