// The engine's messaging layer (RFC 7252 4): datagrams in, duplicates answered from the cache,
// ACK and RST matched to our CONs, answers piggybacked or separate, and the one timer.
#include "engine.hpp"

#include <algorithm>
#include <random>

#include "codec/codec.hpp"

namespace iotgw::coap {

namespace {

// Max-Age on 5.03 and 4.29 (RFC 7252 5.9.3.4): when to try again.
constexpr std::uint32_t kRetryAfterSeconds = 5;
// C2D bodies kept for Block2 fetches: the notification in flight and a few before it.
constexpr std::size_t kBodiesKept = 4;

std::vector<std::uint8_t> encoded(const Message& m) {
  std::vector<std::uint8_t> out;
  encode(m, out);
  return out;
}

Message empty_message(Type type, std::uint16_t id) {
  Message m;
  m.type = type;
  m.id = id;
  return m;
}

}  // namespace

Engine::Engine(EngineHost& host, EngineOptions options)
    : host_(host),
      options_(std::move(options)),
      rng_(std::random_device{}() | 1U),
      dedup_(options_.dedup_entries, options_.exchange_lifetime),
      outbox_(options_.backoff, options_.max_outstanding),
      bodies_(kBodiesKept) {
  // A random first id, so a restarted gateway does not repeat ids a peer still remembers.
  next_id_ = static_cast<std::uint16_t>(draw() * 65536.0);
}

double Engine::draw() {
  if (options_.random) return std::clamp(options_.random(), 0.0, 0.999999);
  // xorshift32: statistical quality is not needed, only spread.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 17;
  rng_ ^= rng_ << 5;
  return static_cast<double>(rng_) / 4294967296.0;
}

void Engine::debug(const std::string& what) {
  host_.log_debug((device_.empty() ? std::string("coap: ") : device_ + ": ") + what);
}

void Engine::on_datagram(std::span<const std::uint8_t> datagram, Time now) {
  if (closed_) return;
  Message m;
  std::string error;
  switch (decode(datagram, m, error)) {
    case Decoded::not_coap: debug("dropped a datagram: " + error); break;
    case Decoded::format_error:
      // RFC 7252 4.2, 4.3: a CON we cannot read is rejected, anything else is silently ignored.
      debug("malformed message " + std::to_string(m.id) + ": " + error);
      if (m.type == Type::con) host_.write(encoded(empty_message(Type::rst, m.id)));
      break;
    case Decoded::message:
      if (m.type == Type::ack || m.type == Type::rst) {
        handle_reply(m, now);
      } else {
        handle_request(m, now);
      }
      break;
  }
  flush_outbox(now);
  arm_timer(now);
}

void Engine::handle_reply(const Message& m, Time now) {
  const auto tag = outbox_.settle(m.id);
  if (!tag) return;  // a duplicate, or for a message given up
  if (tag->kind == Tag::Kind::notification) {
    notification_answered(*tag, m.type == Type::ack, now);
  } else if (m.type == Type::rst) {
    debug("the peer refused a separate response (RST)");
  }
}

void Engine::handle_request(const Message& m, Time now) {
  if (!m.code.request()) {
    // An empty CON is a ping (RFC 7252 4.3), answered with RST; a response is to nothing we
    // asked. Either way there is no request here.
    if (m.type == Type::con) host_.write(encoded(empty_message(Type::rst, m.id)));
    return;
  }
  if (auto* seen = dedup_.find(m.id, now)) {
    if (seen->state != Dedup::State::in_progress && !seen->reply.empty()) {
      host_.write(seen->reply);
    }
    return;
  }
  dedup_.add(m.id, now);
  const auto ex = open(m, now);
  if (exchanges_.size() > options_.max_pending_requests) {
    respond(ex, code::too_many_requests, "too many requests in progress");
    return;
  }
  if (const auto number = unknown_critical_option(m)) {
    respond(ex, code::bad_option, "option " + std::to_string(*number) + " is not understood");
    return;
  }
  const auto resource = resource_of(m);
  if (resource == Resource::unknown) {
    respond(ex, code::not_found, "served: POST /telemetry (/t), GET /c2d");
    return;
  }
  if ((resource == Resource::telemetry && m.code != code::post) ||
      (resource == Resource::c2d && m.code != code::get)) {
    respond(ex, code::method_not_allowed,
            resource == Resource::telemetry ? "telemetry takes POST" : "/c2d takes GET");
    return;
  }
  const auto q = parse_query(m);
  if (identify(ex, m, q)) dispatch(ex, m, q, now);
}

void Engine::dispatch(ExchangeId ex, const Message& m, const Query& q, Time now) {
  if (resource_of(m) == Resource::telemetry) {
    handle_telemetry(ex, m, q, now);
  } else {
    handle_c2d(ex, m, now);
  }
}

Engine::ExchangeId Engine::open(const Message& request, Time now) {
  Exchange e;
  e.id = request.id;
  e.token = request.token;
  e.type = request.type;
  e.ack_by = now + options_.piggyback_timeout;
  e.no_response = no_response_of(request);
  const auto ex = next_exchange_++;
  exchanges_.emplace(ex, std::move(e));
  return ex;
}

void Engine::respond(ExchangeId ex, Code code, std::string diagnostic) {
  Message r;
  r.code = code;
  if (code == code::service_unavailable || code == code::too_many_requests) {
    r.add_uint(option::max_age, kRetryAfterSeconds);
  }
  // RFC 7252 5.5.2: a diagnostic payload explains an error to a person; success needs none.
  if (code.cls() != 2) r.payload = std::move(diagnostic);
  respond(ex, std::move(r));
}

void Engine::respond(ExchangeId ex, Message response) {
  const auto it = exchanges_.find(ex);
  if (it == exchanges_.end()) return;
  auto e = std::move(it->second);
  exchanges_.erase(it);
  if (e.block1 && response.find(option::block1) == nullptr) {
    response.add(option::block1, *e.block1);
  }
  response.token = e.token;
  if (suppressed(e.no_response, response.code)) {
    if (e.type == Type::con && !e.acked) send_empty_ack(e);
    return;
  }
  if (e.type == Type::con && !e.acked) {
    response.type = Type::ack;
    response.id = e.id;
    auto datagram = encoded(response);
    host_.write(datagram);
    dedup_.answered(e.id, std::move(datagram));
  } else if (e.type == Type::con) {
    // Our empty ACK ended the exchange of messages; the answer is a new one, confirmable.
    response.type = Type::con;
    response.id = next_id();
    push_con(response, Tag{Tag::Kind::response, 0});
  } else {
    response.type = Type::non;
    response.id = next_id();
    auto datagram = encoded(response);
    host_.write(datagram);
    dedup_.answered(e.id, std::move(datagram));
  }
}

void Engine::send_empty_ack(Exchange& e) {
  auto ack = encoded(empty_message(Type::ack, e.id));
  host_.write(ack);
  dedup_.acked(e.id, std::move(ack));
  e.acked = true;
}

void Engine::push_con(const Message& m, Tag tag) {
  outbox_.push(m.id, encoded(m), tag);
}

void Engine::flush_outbox(Time now) {
  while (const auto* datagram = outbox_.send_ready(now, [this] { return draw(); })) {
    host_.write(*datagram);
  }
}

void Engine::on_timer(Time now) {
  armed_.reset();  // the timer that fired is spent
  for (auto& [ex, e] : exchanges_) {
    if (e.type == Type::con && !e.acked && e.ack_by <= now) send_empty_ack(e);
  }
  auto due = outbox_.due(now);
  for (const auto& datagram : due.resend) host_.write(datagram);
  for (const auto& tag : due.abandoned) {
    if (tag.kind == Tag::Kind::notification) {
      notification_abandoned(tag, now);
    } else {
      debug("a separate response went unacknowledged after every retransmission");
    }
  }
  expire_bodies(now);
  reassembly_.expire(now, options_.exchange_lifetime);
  flush_outbox(now);
  arm_timer(now);
}

void Engine::arm_timer(Time now) {
  auto next = outbox_.next_deadline();
  const auto earlier = [&next](Time t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [ex, e] : exchanges_) {
    if (e.type == Type::con && !e.acked) earlier(e.ack_by);
  }
  if (const auto body = bodies_.next_deadline()) earlier(*body);
  if (next == armed_) return;
  armed_ = next;
  if (!next) {
    host_.cancel_timer();
    return;
  }
  host_.set_timer(std::max(std::chrono::milliseconds(0),
                           std::chrono::ceil<std::chrono::milliseconds>(*next - now)));
}

}  // namespace iotgw::coap
