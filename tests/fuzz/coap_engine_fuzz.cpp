// libFuzzer target: the CoAP engine driven directly, since the adapter harness cuts its input
// into reads anywhere and a datagram transport must keep boundaries. The first byte picks the
// options (udp or dtls, block size); then each record is one event: a datagram (length-prefixed),
// time passing, or the host's answer to a login, an upstream message, or a C2D message arriving.
// Whatever the engine writes must decode, and no C2D delivery may be settled twice.
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <set>

#include "coap_recording_host.hpp"

namespace {

using namespace iotgw::coap;

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  std::uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  std::span<const std::uint8_t> bytes(std::size_t n) {
    n = std::min(n, size_ - std::min(at_, size_));
    const std::span<const std::uint8_t> out(data_ + at_, n);
    at_ += n;
    return out;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t at_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  testing_host::RecordingHost host;
  host.keep_logs = false;
  const auto flags = in.byte();
  EngineOptions options;
  options.secure_transport = (flags & 1) != 0;
  options.block_size = std::size_t{16} << (((flags >> 1) & 7) % 7);
  options.max_reassembly = 4096;
  options.max_pending_requests = 4;
  options.max_queued_c2d = 2;
  options.dedup_entries = 8;
  std::uint32_t seed = flags;
  options.random = [&seed] {
    seed = seed * 1103515245U + 12345U;
    return static_cast<double>(seed >> 8) / 16777216.0;
  };
  Engine engine(host, options);
  Time now{std::chrono::hours(1)};
  std::size_t auths_answered = 0, upstream_answered = 0;
  std::uint64_t next_delivery = 1;
  while (!in.empty()) {
    const auto op = in.byte();
    switch (op & 7) {
      case 4:
        now += std::chrono::milliseconds(100 * in.byte());
        engine.on_timer(now);
        break;
      case 5:
        if (auths_answered < host.auths.size()) {
          ++auths_answered;
          engine.on_auth_result(host.next_token - 1, (op & 8) ? IOTGW_ERR_REFUSED : IOTGW_OK, "dev",
                                "fuzz", now);
        }
        break;
      case 6:
        if (upstream_answered < host.upstream.size()) {
          // Tokens are given out in order; an answer to a stale one must be ignored too.
          engine.on_upstream_result(host.next_token - 1 - (op >> 6),
                                    static_cast<iotgw_outcome>((op >> 3) & 3), "fuzz", now);
          ++upstream_answered;
        }
        break;
      case 7: {
        const auto body = in.bytes(std::size_t{in.byte()} * 8);
        engine.on_downstream(
            {std::string(body.begin(), body.end()), (op & 8) ? "application/json" : ""},
            next_delivery++, now);
        break;
      }
      default: {
        const std::size_t length = static_cast<std::size_t>(in.byte()) << 8 | in.byte();
        engine.on_datagram(in.bytes(length), now);
        break;
      }
    }
  }
  if (host.undecodable != 0) std::abort();
  std::set<std::uint64_t> settled;
  for (const auto& s : host.settled) {
    if (s.delivery == 0 || s.delivery >= next_delivery) std::abort();
    if (!settled.insert(s.delivery).second) std::abort();
  }
  return 0;
}
