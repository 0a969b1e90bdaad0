#include "requests.hpp"

#include <cstring>

#include "codec/codec.hpp"

namespace iotgw::bench::coap {

namespace {

constexpr std::size_t kIdAt = 2, kTokenAt = 4, kTokenSize = 4;

std::vector<std::uint8_t> encoded(const RequestPlan& plan, bool confirmable, bool identity) {
  iotgw::coap::Message m;
  m.type = confirmable ? iotgw::coap::Type::con : iotgw::coap::Type::non;
  m.code = iotgw::coap::code::post;
  m.token.assign(kTokenSize, '\0');  // patched per message
  std::size_t from = 0;
  while (from < plan.path.size()) {
    const auto to = std::min(plan.path.find('/', from), plan.path.size());
    if (to > from) m.add(iotgw::coap::option::uri_path, plan.path.substr(from, to - from));
    from = to + 1;
  }
  if (identity) {
    m.add(iotgw::coap::option::uri_query, "d=" + plan.device);
    m.add(iotgw::coap::option::uri_query, "p=" + plan.credential);
  }
  m.payload.assign(plan.size, 'x');
  std::vector<std::uint8_t> out;
  iotgw::coap::encode(m, out);
  return out;
}

// The payload is the datagram's tail: its stamp sits `size` bytes before the end.
std::span<const std::uint8_t> patch(std::vector<std::uint8_t>& d, std::size_t size,
                                    std::uint32_t seq, std::int64_t stamp) {
  d[kIdAt] = static_cast<std::uint8_t>(seq >> 8);
  d[kIdAt + 1] = static_cast<std::uint8_t>(seq);
  for (std::size_t i = 0; i < kTokenSize; ++i) {
    d[kTokenAt + i] = static_cast<std::uint8_t>(seq >> (8 * (kTokenSize - 1 - i)));
  }
  std::memcpy(d.data() + d.size() - size, &stamp, sizeof stamp);
  return d;
}

}  // namespace

Requests::Requests(const RequestPlan& plan)
    : hello_(encoded(plan, true, true)),
      next_(encoded(plan, plan.confirmable, false)),
      size_(plan.size) {}

std::span<const std::uint8_t> Requests::hello(std::uint32_t seq, std::int64_t stamp) {
  return patch(hello_, size_, seq, stamp);
}

std::span<const std::uint8_t> Requests::next(std::uint32_t seq, std::int64_t stamp) {
  return patch(next_, size_, seq, stamp);
}

bool token_seq(const std::string& token, std::uint32_t& seq) {
  if (token.size() != kTokenSize) return false;
  seq = 0;
  for (const char c : token) seq = seq << 8 | static_cast<std::uint8_t>(c);
  return true;
}

}  // namespace iotgw::bench::coap
