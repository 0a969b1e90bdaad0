// Block-wise transfer (RFC 7959) both ways: request bodies arriving in Block1 blocks put back
// together up to a limit, and C2D bodies over one block kept so the device can fetch the rest
// with Block2.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/message.hpp"
#include "dedup.hpp"

namespace iotgw::coap {

// The size exponent for a block size (16 to 1024 bytes, RFC 7959 2.2), rounded down.
std::uint8_t szx_for(std::size_t block_size);

// One Block1 upload per peer at a time: a device sends one body after another, and a block 0
// starts afresh (RFC 7959 2.5 lets the server keep as little as that).
class Reassembly {
 public:
  enum class Result { more, complete, out_of_order, too_large };

  // Adds a block of the body for `key` (the request's path and query). Blocks are placed by
  // offset, so a client that moves to the smaller size we answer with stays in order.
  Result add(const std::string& key, const Block& block, std::string_view payload,
             std::size_t limit, Time now);
  // The complete body (after Result::complete); the reassembly is empty again.
  std::string take();
  // An upload the device stopped sending is forgotten after `idle`.
  void expire(Time now, std::chrono::seconds idle);

 private:
  std::string key_;
  std::string body_;
  Time last_{};
  bool active_ = false;
};

// C2D bodies larger than one block: the notification carries block 0, the device asks for the
// rest (GET /c2d with Block2). Bounded: the oldest is dropped when full.
class Bodies {
 public:
  struct Body {
    std::string etag;
    std::string data;
    std::optional<std::uint32_t> content_format;
    std::uint64_t delivery = 0;
    bool settled = false;  // the last block was served, or the device refused it
    Time expires{};
  };

  explicit Bodies(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  // Keeps a body; returns the one dropped to make room, if it was not yet settled.
  std::optional<Body> add(Body body);
  // The body with this ETag, or the newest when `etag` is empty; nullptr when none.
  Body* find(std::string_view etag);
  Body* find_delivery(std::uint64_t delivery);
  // Bodies past their time, removed; the caller settles the unsettled ones.
  std::vector<Body> expire(Time now);
  std::optional<Time> next_deadline() const;
  bool empty() const { return bodies_.empty(); }

 private:
  std::size_t capacity_;
  std::vector<Body> bodies_;  // oldest first; a few at most
};

}  // namespace iotgw::coap
