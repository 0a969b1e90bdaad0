// Telemetry: POST /telemetry (or /t, /event, /e) goes up as a message, at least once for a CON
// (answered 2.04 only once the hub accepted it) and at most once for a NON. A body over one
// datagram arrives in Block1 blocks.
#include "engine.hpp"

namespace iotgw::coap {

namespace {

// Block1 blocks belong to one body when they name the same resource and query (RFC 7959 2.5).
std::string body_key(const Message& m) {
  std::string key;
  for (const auto& o : m.options) {
    if (o.number == option::uri_path || o.number == option::uri_query) {
      key += o.value;
      key.push_back('\0');
    }
  }
  return key;
}

}  // namespace

void Engine::handle_telemetry(ExchangeId ex, const Message& m, const Query& q, Time now) {
  auto body = request_body(ex, m, now);
  if (!body) return;
  Upstream up;
  up.body = std::move(*body);
  if (const auto* cf = m.find(option::content_format)) {
    if (const auto n = decode_uint(cf->value)) {
      up.system.emplace_back("content-type", content_type_of(*n));
    }
  }
  up.application = q.properties;
  const bool confirmable = m.type == Type::con;
  const auto token = host_.send_upstream(std::move(up), confirmable);
  if (!token) {
    respond(ex, code::service_unavailable, "the gateway cannot take the message now");
    return;
  }
  if (!confirmable) {
    respond(ex, code::changed);  // at most once: on its way is all a NON is promised
    return;
  }
  upstream_[*token] = ex;
}

std::optional<std::string> Engine::request_body(ExchangeId ex, const Message& m, Time now) {
  const auto too_large = [&] {
    Message r;
    r.code = code::request_entity_too_large;
    r.add_uint(option::size1, static_cast<std::uint32_t>(options_.max_reassembly));
    r.payload = "the largest body taken is " + std::to_string(options_.max_reassembly) + " bytes";
    respond(ex, std::move(r));
    return std::nullopt;
  };
  const auto* block1 = m.find(option::block1);
  if (block1 == nullptr) {
    if (m.payload.size() > options_.max_reassembly) return too_large();
    return m.payload;
  }
  const auto block = decode_block(block1->value);
  if (!block) {
    respond(ex, code::bad_request, "Block1 is malformed");
    return std::nullopt;
  }
  if (const auto* size1 = m.find(option::size1)) {
    // The client says the whole size up front (RFC 7959 4): refuse before taking any of it.
    if (decode_uint(size1->value).value_or(0) > options_.max_reassembly) return too_large();
  }
  switch (reassembly_.add(body_key(m), *block, m.payload, options_.max_reassembly, now)) {
    case Reassembly::Result::more: {
      Message r;
      r.code = code::continue_;
      // Our block size if smaller: the client goes on with it (RFC 7959 2.3).
      const Block echo{block->num, true, std::min(block->szx, szx_for(options_.block_size))};
      r.add_uint(option::block1, encode_block(echo));
      respond(ex, std::move(r));
      return std::nullopt;
    }
    case Reassembly::Result::out_of_order:
      respond(ex, code::request_entity_incomplete,
              "Block1 block " + std::to_string(block->num) + " is not the next one");
      return std::nullopt;
    case Reassembly::Result::too_large: return too_large();
    case Reassembly::Result::complete:
      exchanges_.at(ex).block1 = encode_uint(encode_block({block->num, false, block->szx}));
      return reassembly_.take();
  }
  return std::nullopt;
}

void Engine::on_upstream_result(std::uint64_t token, iotgw_outcome outcome,
                                const std::string& reason, Time now) {
  const auto it = upstream_.find(token);
  if (it == upstream_.end()) return;
  const auto ex = it->second;
  upstream_.erase(it);
  if (outcome == IOTGW_ACCEPTED) {
    respond(ex, code::changed);
  } else if (outcome == IOTGW_REJECTED) {
    // It will never be accepted: the client hears why, and should not send it again.
    respond(ex, refusal_code(reason), "not accepted upstream: " + reason);
  } else {
    // Released or modified: the hub may take it later, so the client sends it again then.
    respond(ex, code::service_unavailable, "the hub did not take it: " + reason);
  }
  flush_outbox(now);
  arm_timer(now);
}

}  // namespace iotgw::coap
