// iotgw-bench-bridge: how fast the bridge carries QoS 1 telemetry through one hub connection.
//
//   iotgw-bench-bridge URL HOSTNAME POLICY KEY [--devices N] [--count N] [--size BYTES]
//                      [--window W]
//
// The real bridge (flavour iothub, tokens minted from POLICY/KEY) on one event loop, so one
// hub connection; N devices named d0..d{N-1}, each keeping W messages of SIZE bytes unsettled.
// The clock runs from the first send to the last accepted outcome. Prints one line: sent,
// accepted, refused, seconds, msgs/s, MB/s. Only accepted messages count.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bridge/bridge.hpp"
#include "iotgw/common/log.hpp"

namespace {

struct Options {
  std::string url, hostname, policy, key;
  int devices = 100;
  long count = 200'000;
  std::size_t size = 256;
  int window = 16;
};

// Stands where a device connection would: the bridge's C2D and close calls land here.
class Channel final : public iotgw::bridge::DeviceChannel {
 public:
  void deliver(std::unique_ptr<iotgw_msg>, std::uint64_t) override {}
  void attached(iotgw_status status, const std::string& reason) override {
    if (status == IOTGW_OK) return;
    std::cerr << "the hub did not take a device: " << reason << "\n";
    std::exit(1);
  }
  void close(iotgw_close_cause, const std::string& reason) override {
    std::cerr << "device closed by the bridge: " << reason << "\n";
    std::exit(1);
  }
  void upstream_ready(bool) override {}  // the window already bounds what each device sends
  void hub_request(const iotgw::bridge::HubRequest&) override {}  // enables none
};

class Run {
 public:
  Run(const Options& o, iotgw::bridge::Bridge& bridge, boost::asio::io_context& loop)
      : o_(o), loop_(loop), payload_(o.size, 'x') {
    for (int i = 0; i < o.devices; ++i) {
      channels_.push_back(std::make_shared<Channel>());
      iotgw::bridge::Identity id;
      id.device_id = "d" + std::to_string(i);
      devices_.push_back(bridge.attach(loop, id, channels_.back()));
    }
  }

  void start() {
    start_ = std::chrono::steady_clock::now();
    for (std::size_t d = 0; d < devices_.size(); ++d) {
      for (int w = 0; w < o_.window; ++w) send(d);
    }
  }

  bool report() const {
    const double s = std::chrono::duration<double>(end_ - start_).count();
    std::printf("sent %ld accepted %ld refused %ld seconds %.3f msgs/s %.0f MB/s %.2f\n", sent_,
                accepted_, refused_, s, static_cast<double>(accepted_) / s,
                static_cast<double>(accepted_) * static_cast<double>(o_.size) / s / 1e6);
    return refused_ == 0 && accepted_ == o_.count;
  }

 private:
  void send(std::size_t device) {
    if (sent_ >= o_.count) return;
    ++sent_;
    auto msg = std::make_unique<iotgw_msg>();
    msg->body.assign(payload_.begin(), payload_.end());
    devices_[device]->send(std::move(msg), IOTGW_QOS_AT_LEAST_ONCE,
                           [this, device](iotgw_outcome outcome, const std::string& reason) {
                             if (outcome == IOTGW_ACCEPTED) {
                               ++accepted_;
                             } else if (++refused_ == 1) {
                               std::cerr << "refused: " << reason << "\n";
                             }
                             if (accepted_ + refused_ == o_.count) {
                               end_ = std::chrono::steady_clock::now();
                               loop_.stop();
                               return;
                             }
                             send(device);
                           });
  }

  const Options& o_;
  boost::asio::io_context& loop_;
  std::string payload_;
  std::vector<std::shared_ptr<Channel>> channels_;
  std::vector<std::unique_ptr<iotgw::bridge::BridgeDevice>> devices_;
  long sent_ = 0, accepted_ = 0, refused_ = 0;
  std::chrono::steady_clock::time_point start_, end_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::cerr << "usage: iotgw-bench-bridge URL HOSTNAME POLICY KEY [--devices N] [--count N] "
                 "[--size BYTES] [--window W]\n";
    return 2;
  }
  Options o{argv[1], argv[2], argv[3], argv[4]};
  for (int i = 5; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--devices")
      o.devices = std::stoi(argv[i + 1]);
    else if (a == "--count")
      o.count = std::stol(argv[i + 1]);
    else if (a == "--size")
      o.size = std::stoul(argv[i + 1]);
    else if (a == "--window")
      o.window = std::stoi(argv[i + 1]);
  }
  iotgw::config::BridgeSpec spec;
  spec.flavour = "iothub";
  const std::string rest = o.url.substr(o.url.find("://") + 3);
  spec.host = rest.substr(0, rest.rfind(':'));
  spec.port = rest.substr(rest.rfind(':') + 1);
  spec.hostname = o.hostname;
  spec.policy = o.policy;
  spec.policy_key = o.key;
  iotgw::Logger log(iotgw::LogLevel::warn);
  auto bridge = iotgw::bridge::make_bridge(spec, log);
  boost::asio::io_context loop;
  Run run(o, *bridge, loop);
  // Tokens first: the devices' links are up before the clock starts.
  boost::asio::steady_timer warmup(loop, std::chrono::seconds(1));
  warmup.async_wait([&](const boost::system::error_code&) { run.start(); });
  loop.run();
  return run.report() ? 0 : 1;
}
