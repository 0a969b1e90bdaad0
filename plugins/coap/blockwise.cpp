#include "blockwise.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace iotgw::coap {

std::uint8_t szx_for(std::size_t block_size) {
  std::uint8_t szx = 0;
  while (szx < 6 && (std::size_t{32} << szx) <= block_size) ++szx;
  return szx;
}

Reassembly::Result Reassembly::add(const std::string& key, const Block& block,
                                   std::string_view payload, std::size_t limit, Time now) {
  if (block.num == 0) {
    key_ = key;
    body_.clear();
    active_ = true;
  }
  // A block that is not the next one for this body, or a middle block not of its full size
  // (RFC 7959 2.3), leaves a body with a hole.
  if (!active_ || key != key_ || block.offset() != body_.size() ||
      (block.more && payload.size() != block.size())) {
    active_ = false;
    body_.clear();
    return Result::out_of_order;
  }
  if (body_.size() + payload.size() > limit) {
    active_ = false;
    body_.clear();
    return Result::too_large;
  }
  body_.append(payload);
  last_ = now;
  return block.more ? Result::more : Result::complete;
}

std::string Reassembly::take() {
  active_ = false;
  key_.clear();
  return std::exchange(body_, {});
}

void Reassembly::expire(Time now, std::chrono::seconds idle) {
  if (active_ && last_ + idle <= now) {
    active_ = false;
    body_ = {};
    key_.clear();
  }
}

std::optional<Bodies::Body> Bodies::add(Body body) {
  std::optional<Body> dropped;
  if (bodies_.size() >= capacity_) {
    if (!bodies_.front().settled) dropped = std::move(bodies_.front());
    bodies_.erase(bodies_.begin());
  }
  bodies_.push_back(std::move(body));
  return dropped;
}

Bodies::Body* Bodies::find(std::string_view etag) {
  if (bodies_.empty()) return nullptr;
  if (etag.empty()) return &bodies_.back();
  const auto it = std::find_if(bodies_.begin(), bodies_.end(),
                               [etag](const Body& b) { return b.etag == etag; });
  return it == bodies_.end() ? nullptr : &*it;
}

Bodies::Body* Bodies::find_delivery(std::uint64_t delivery) {
  const auto it = std::find_if(bodies_.begin(), bodies_.end(),
                               [delivery](const Body& b) { return b.delivery == delivery; });
  return it == bodies_.end() ? nullptr : &*it;
}

std::vector<Bodies::Body> Bodies::expire(Time now) {
  const auto alive = std::find_if(bodies_.begin(), bodies_.end(),
                                  [now](const Body& b) { return b.expires > now; });
  std::vector<Body> gone(std::make_move_iterator(bodies_.begin()), std::make_move_iterator(alive));
  bodies_.erase(bodies_.begin(), alive);
  return gone;
}

std::optional<Time> Bodies::next_deadline() const {
  if (bodies_.empty()) return std::nullopt;
  return bodies_.front().expires;
}

}  // namespace iotgw::coap
