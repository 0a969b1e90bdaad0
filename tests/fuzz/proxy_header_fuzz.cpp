// The PROXY v2 header parser on any bytes: the fixed part, then the whole it announces.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "transport/proxy_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace proxy = iotgw::transport::proxy;
  const std::span<const std::uint8_t> bytes(data, size);
  auto whole = proxy::header_size(bytes);
  if (!std::holds_alternative<std::size_t>(whole)) return 0;
  const auto n = std::get<std::size_t>(whole);
  if (n < proxy::kFixedSize || n > proxy::kMaxSize) __builtin_trap();
  if (n > size) return 0;
  auto parsed = proxy::parse_header(bytes.first(n));
  if (const auto* h = std::get_if<proxy::Header>(&parsed)) {
    if (!h->local && (h->source.empty() || h->destination.empty())) __builtin_trap();
  }
  return 0;
}
