#include "bridge/loopback_bridge.hpp"

#include <unordered_set>

#include <boost/asio/post.hpp>

namespace iotgw::bridge {

namespace {

class LoopbackDevice final : public BridgeDevice {
 public:
  LoopbackDevice(boost::asio::io_context& loop, Identity identity,
                 std::weak_ptr<DeviceChannel> channel, bool echo, Logger& log)
      : loop_(loop),
        identity_(std::move(identity)),
        channel_(std::move(channel)),
        echo_(echo),
        log_(log) {}

  ~LoopbackDevice() override {
    if (!unsettled_.empty() && log_.enabled(LogLevel::debug)) {
      log_.debug("bridge", identity_.device_id + ": " + std::to_string(unsettled_.size()) +
                               " downstream message(s) released");
    }
  }

  void send(std::unique_ptr<iotgw_msg> msg, iotgw_qos qos, Completion done) override {
    std::unique_ptr<iotgw_msg> echo;
    if (echo_ && downstream_) echo = std::make_unique<iotgw_msg>(*msg);
    if (qos == IOTGW_QOS_AT_LEAST_ONCE && done) {
      boost::asio::post(loop_, [done = std::move(done)] { done(IOTGW_ACCEPTED, {}); });
    }
    if (!echo) return;
    const std::uint64_t delivery = next_delivery_++;
    unsettled_.insert(delivery);
    boost::asio::post(loop_, [channel = channel_, echo = std::move(echo), delivery]() mutable {
      if (auto c = channel.lock()) c->deliver(std::move(echo), delivery);
    });
  }

  void set_downstream(bool enabled) override { downstream_ = enabled; }

  // The loopback has no hub: no twin, no methods.
  void request(Operation, OperationDone done) override {
    boost::asio::post(loop_, [done = std::move(done)] {
      done(
          OperationResult::local(kStatusUnavailable, "the loopback bridge has no twin or methods"));
    });
  }
  bool respond(std::uint64_t, int, std::string) override { return false; }

  void settle(std::uint64_t delivery, iotgw_outcome outcome, std::string_view reason) override {
    if (unsettled_.erase(delivery) == 0) return;
    if (outcome != IOTGW_ACCEPTED) {
      log_.info("bridge", identity_.device_id + ": downstream message " + std::to_string(delivery) +
                              " settled " + (outcome == IOTGW_REJECTED ? "rejected" : "released") +
                              (reason.empty() ? "" : ": " + std::string(reason)));
    }
  }

 private:
  boost::asio::io_context& loop_;
  Identity identity_;
  std::weak_ptr<DeviceChannel> channel_;
  bool echo_;
  Logger& log_;
  bool downstream_ = false;
  std::uint64_t next_delivery_ = 1;
  std::unordered_set<std::uint64_t> unsettled_;
};

}  // namespace

std::unique_ptr<BridgeDevice> LoopbackBridge::attach(boost::asio::io_context& loop,
                                                     const Identity& identity,
                                                     std::weak_ptr<DeviceChannel> channel) {
  boost::asio::post(loop, [channel] {
    if (auto c = channel.lock()) c->attached(IOTGW_OK, {});
  });
  return std::make_unique<LoopbackDevice>(loop, identity, std::move(channel), echo_, log_);
}

}  // namespace iotgw::bridge
