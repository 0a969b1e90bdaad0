// The engine's subscriptions: SUBSCRIBE and UNSUBSCRIBE answered per filter (MQTT 5 says why
// one is refused), in the order they came, with the bridge's C2D link open while any filter is.
#include "engine.hpp"

#include <algorithm>

namespace iotgw::mqtt {

void Engine::handle(const Subscribe& s) {
  if (v5() && !s.props.subscription_ids.empty()) {
    fail("subscription identifiers are not served", reason::subscription_ids_not_supported);
    return;
  }
  const bool was_subscribed = !filters_.empty();
  const auto ack = next_ack_++;
  auto& queued = traffic().acks[ack];
  Suback suback{s.packet_id, {}, {}};
  // 3.1.1 has one failure code; MQTT 5 says which.
  const auto failure = [this](std::uint8_t code) { return v5() ? code : kSubackFailure; };
  for (const auto& sub : s.subscriptions) {
    const auto granted = std::min<std::uint8_t>(sub.qos, 1);
    const auto hub = hub_filter(sub.filter);
    if (sub.filter.starts_with("$share/")) {
      suback.codes.push_back(failure(reason::shared_subscriptions_not_supported));
    } else if (sub.filter == c2d_filter(device_) ||
               (options_->map_other_topics && mappable_topic(sub.filter))) {
      suback.codes.push_back(granted);
      filters_[sub.filter] = granted;
    } else if (hub == HubFilter::twin_responses) {
      suback.codes.push_back(granted);
      twin_responses_ = true;
    } else if (hub == HubFilter::none) {
      suback.codes.push_back(failure(reason::not_authorized));
    } else if (traffic_seen().operations.size() >= options_->max_operations) {
      debug("too many operations in flight to subscribe to the hub");
      suback.codes.push_back(failure(reason::quota_exceeded));
    } else if (subscribe_to_hub(hub, granted, ack, suback.codes.size())) {
      suback.codes.push_back(kSubackFailure);  // until the hub agrees
      ++queued.waiting;
    } else {
      suback.codes.push_back(failure(reason::unspecified));
    }
  }
  queued.packet = std::move(suback);
  flush_acks();
  subscribe_changed(was_subscribed);
}

void Engine::handle(const Unsubscribe& u) {
  const bool was_subscribed = !filters_.empty();
  Unsuback unsuback{u.packet_id, {}, {}};
  for (const auto& f : u.filters) {
    const auto hub = hub_filter(f);
    const auto* sub = hub_subscription(hub);
    const bool existed = filters_.erase(f) > 0 ||
                         (hub == HubFilter::twin_responses && twin_responses_) ||
                         (sub != nullptr && sub->state != HubSubscription::State::off);
    unsubscribe_from_hub(hub);
    unsuback.codes.push_back(existed ? reason::success : reason::no_subscription_existed);
  }
  traffic().acks[next_ack_++].packet = std::move(unsuback);
  flush_acks();
  subscribe_changed(was_subscribed);
}

void Engine::flush_acks() {
  if (!traffic_) return;
  auto& acks = traffic_->acks;
  while (!acks.empty() && acks.begin()->second.waiting == 0) {
    send(acks.begin()->second.packet);
    acks.erase(acks.begin());
  }
}

// The bridge's C2D link is there while any filter is: opened by the first, closed after the last.
void Engine::subscribe_changed(bool was_subscribed) {
  if (was_subscribed != !filters_.empty()) host_.set_downstream(!was_subscribed);
}

}  // namespace iotgw::mqtt
