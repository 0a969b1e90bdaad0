#include "telemetry_log.hpp"

namespace iotgw::hub {

std::int64_t TelemetryLog::append(Encoded msg) {
  messages_.push_back(std::move(msg));
  if (messages_.size() > capacity_) {
    messages_.pop_front();
    ++first_;
  }
  return next_++;
}

void TelemetryLog::restore(std::int64_t seq, const proton::message& msg) {
  if (messages_.empty()) first_ = seq;
  next_ = seq;
  append(encode_exact(msg));
}

const TelemetryLog::Encoded* TelemetryLog::at_or_after(std::int64_t& seq) const {
  if (seq < first_) seq = first_;  // what was evicted is gone for slow readers too
  if (seq >= next_) return nullptr;
  return &messages_[static_cast<std::size_t>(seq - first_)];
}

}  // namespace iotgw::hub
