// Cloud-to-device: GET /c2d with Observe 0 registers the peer (RFC 7641), and each C2D message
// goes out as a confirmable 2.05 notification, one at a time. The device's ACK completes it, an
// RST rejects it, silence through every retransmission gives it back to the hub. A body over
// `block_size` goes block-wise (RFC 7959): block 0 in the notification, the rest fetched with
// GET /c2d and Block2, and completed when the last block is served.
#include "engine.hpp"

namespace iotgw::coap {

namespace {

constexpr std::uint32_t kRegister = 0, kDeregister = 1;  // Observe in a request

}  // namespace

void Engine::handle_c2d(ExchangeId ex, const Message& m, Time now) {
  std::optional<Block> asked;
  if (const auto* b2 = m.find(option::block2)) {
    asked = decode_block(b2->value);
    if (!asked) {
      respond(ex, code::bad_request, "Block2 is malformed");
      return;
    }
  }
  std::optional<std::uint32_t> observe;
  if (const auto* o = m.find(option::observe)) observe = decode_uint(o->value);
  if (asked && (asked->num > 0 || !observe)) {
    serve_block(ex, m, *asked);
    return;
  }
  if (observe == kRegister) {
    const bool was = observation_.active();
    observation_.start(m.token);  // a new token replaces the old: /c2d is one resource
    if (!was) host_.set_downstream(true);
    Message r;
    r.code = code::content;
    r.add_uint(option::observe, observation_.next_sequence());
    respond(ex, std::move(r));
    notify_next(now);
    return;
  }
  if (observe == kDeregister) {
    if (observation_.active()) stop_observing("the device stopped observing /c2d");
    respond(ex, code::content);  // no Observe option: the observation is over (RFC 7641 3.6)
    return;
  }
  respond(ex, code::not_found, "no message waiting: observe /c2d (Observe: 0) to receive them");
}

void Engine::serve_block(ExchangeId ex, const Message& m, const Block& asked) {
  const auto* etag = m.find(option::etag);
  auto* body = bodies_.find(etag != nullptr ? std::string_view(etag->value) : std::string_view());
  if (body == nullptr) {
    respond(ex, code::not_found, "no C2D body to fetch blocks of");
    return;
  }
  // Blocks of the client's size or ours, whichever is smaller; its offset stays its own.
  const auto szx = std::min(asked.szx, szx_for(options_.block_size));
  const auto size = std::size_t{16} << szx;
  const auto offset = asked.offset();
  if (offset >= body->data.size()) {
    respond(ex, code::bad_option, "Block2 block " + std::to_string(asked.num) + " is past the end");
    return;
  }
  const Block block{static_cast<std::uint32_t>(offset / size), offset + size < body->data.size(),
                    szx};
  Message r;
  r.code = code::content;
  r.add(option::etag, body->etag);
  if (body->content_format) r.add_uint(option::content_format, *body->content_format);
  r.add_uint(option::block2, encode_block(block));
  r.payload = body->data.substr(offset, size);
  if (!block.more && !body->settled) {
    body->settled = true;
    host_.settle(body->delivery, IOTGW_ACCEPTED, {});
  }
  respond(ex, std::move(r));
}

void Engine::on_downstream(Downstream message, std::uint64_t delivery, Time now) {
  if (!observation_.active()) {
    host_.settle(delivery, IOTGW_RELEASED, "the device does not observe /c2d");
  } else if (!observation_.queue(std::move(message), delivery, options_.max_queued_c2d)) {
    host_.settle(delivery, IOTGW_RELEASED, "too many C2D messages waiting for the device");
  } else {
    notify_next(now);
  }
  flush_outbox(now);
  arm_timer(now);
}

void Engine::notify_next(Time now) {
  auto next = observation_.next();
  if (!next) return;
  auto& [message, delivery] = *next;
  Message n;
  n.type = Type::con;
  n.code = code::content;
  n.id = next_id();
  n.token = observation_.token();
  n.add_uint(option::observe, observation_.next_sequence());
  const auto format =
      message.content_type.empty() ? std::nullopt : content_format_of(message.content_type);
  if (format) n.add_uint(option::content_format, *format);
  const auto szx = szx_for(options_.block_size);
  const auto size = std::size_t{16} << szx;
  if (message.body.size() <= size) {
    n.payload = std::move(message.body);
  } else {
    Bodies::Body body{
        encode_uint(next_etag_++),       std::move(message.body), format, delivery, false,
        now + options_.exchange_lifetime};
    n.add(option::etag, body.etag);
    n.add_uint(option::block2, encode_block({0, true, szx}));
    n.add_uint(option::size2, static_cast<std::uint32_t>(body.data.size()));
    n.payload = body.data.substr(0, size);
    if (auto dropped = bodies_.add(std::move(body))) {
      host_.settle(dropped->delivery, IOTGW_RELEASED, "newer C2D bodies took its place");
    }
  }
  observation_.sent(delivery);
  push_con(n, Tag{Tag::Kind::notification, delivery});
}

void Engine::notification_answered(const Tag& tag, bool ack, Time now) {
  if (observation_.in_flight(tag.delivery)) observation_.done();
  auto* body = bodies_.find_delivery(tag.delivery);
  if (ack) {
    // A block-wise body is complete when its last block was served, not at the first block.
    if (body == nullptr) host_.settle(tag.delivery, IOTGW_ACCEPTED, {});
  } else {
    if (body == nullptr || !body->settled) {
      host_.settle(tag.delivery, IOTGW_REJECTED, "the device answered the notification with RST");
    }
    if (body != nullptr) body->settled = true;
    // RFC 7641 3.6: an RST to a notification ends the observation.
    if (observation_.active()) stop_observing("the device refused a notification (RST)");
  }
  notify_next(now);
}

void Engine::notification_abandoned(const Tag& tag, Time now) {
  if (observation_.in_flight(tag.delivery)) observation_.done();
  auto* body = bodies_.find_delivery(tag.delivery);
  if (body == nullptr || !body->settled) {
    host_.settle(tag.delivery, IOTGW_RELEASED, "the device did not acknowledge the notification");
  }
  if (body != nullptr) body->settled = true;
  // RFC 7641 4.5: a client that stops acknowledging is no longer an observer; the messages go
  // back to the hub until it registers again.
  if (observation_.active()) stop_observing("the device stopped acknowledging notifications");
  notify_next(now);
}

void Engine::stop_observing(const std::string& why) {
  debug(why);
  for (auto& [message, delivery] : observation_.stop()) {
    host_.settle(delivery, IOTGW_RELEASED, why);
  }
  host_.set_downstream(false);
}

void Engine::expire_bodies(Time now) {
  for (const auto& body : bodies_.expire(now)) {
    if (!body.settled) {
      host_.settle(body.delivery, IOTGW_RELEASED, "the device did not fetch every block in time");
    }
  }
}

}  // namespace iotgw::coap
