// The POSTs one CoAP client sends, encoded once by the adapter's codec and then patched: from one
// message to the next only the message id, the token and the payload's time stamp change, so a
// datagram costs a few stores instead of an encode.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace iotgw::bench::coap {

struct RequestPlan {
  std::string path = "/telemetry";  // each segment one Uri-Path option
  std::size_t size = 256;           // payload bytes, the first 8 the time stamp
  bool confirmable = true;
  std::string device, credential;  // the identity query (d and p) of the first request
};

class Requests {
 public:
  explicit Requests(const RequestPlan& plan);

  // The first request, always CON, as the server learns the peer's identity from it; its seq
  // says message id and token as Exchange::seq does.
  std::span<const std::uint8_t> hello(std::uint32_t seq, std::int64_t stamp);
  // Any later one: CON or NON as planned, without the identity.
  std::span<const std::uint8_t> next(std::uint32_t seq, std::int64_t stamp);

 private:
  std::vector<std::uint8_t> hello_, next_;
  std::size_t size_;
};

// The 4-byte token of a response as the seq it was made from; false for a token of another size.
bool token_seq(const std::string& token, std::uint32_t& seq);

}  // namespace iotgw::bench::coap
