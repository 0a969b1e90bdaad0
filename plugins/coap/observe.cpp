#include "observe.hpp"

namespace iotgw::coap {

std::vector<std::pair<Downstream, std::uint64_t>> Observation::stop() {
  token_.reset();
  return std::exchange(waiting_, {});
}

bool Observation::queue(Downstream message, std::uint64_t delivery, std::size_t limit) {
  if (waiting_.size() >= limit) return false;
  waiting_.emplace_back(std::move(message), delivery);
  return true;
}

std::optional<std::pair<Downstream, std::uint64_t>> Observation::next() {
  if (in_flight_ || waiting_.empty() || !token_) return std::nullopt;
  auto m = std::move(waiting_.front());
  waiting_.erase(waiting_.begin());
  return m;
}

}  // namespace iotgw::coap
