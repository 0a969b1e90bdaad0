// One AMQP connection from one event loop to the hub, shared by up to 995 devices (IoT Hub's
// per-connection token limit). Proton's connection_driver runs on the loop itself over an Asio
// socket: no Proton thread, no locks. Per device: a CBS put-token, a telemetry sender, and a C2D
// receiver once the device asks for C2D. A dropped connection is reopened with backoff, tokens
// are put again and links re-attached.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <proton/io/connection_driver.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>
#include <proton/tracker.hpp>

#include "bridge/bridge.hpp"
#include "iotgw/common/log.hpp"

namespace iotgw::bridge {

struct HubTarget {
  std::string host = "127.0.0.1";
  std::string port = "5672";
  std::string hostname;  // the hub's name, for token audiences
};

class HubConnection final : public proton::messaging_handler,
                            public std::enable_shared_from_this<HubConnection> {
 public:
  using Completion = BridgeDevice::Completion;
  // Makes a fresh token for a device and says until when it holds (Unix seconds); empty for a
  // token that was passed through, which the gateway cannot renew.
  using Minter = std::function<std::string(const std::string& device, std::int64_t& expiry)>;
  static constexpr std::size_t kMaxDevices = 995;

  HubConnection(boost::asio::io_context& loop, HubTarget target, Logger& log);
  ~HubConnection() override;

  void start();
  std::size_t devices() const { return devices_.size(); }

  // Read from any thread (SIGUSR1); written on the loop.
  struct Stats {
    bool up;
    std::size_t devices, in_flight;
    unsigned reconnects;
    std::string last_error;
  };
  Stats stats() const;

  // Device operations; all on the loop.
  void add_device(const std::string& id, std::string token, std::int64_t expiry, Minter mint,
                  std::weak_ptr<DeviceChannel> channel);
  void remove_device(const std::string& id);
  void send(const std::string& id, proton::message msg, bool confirmed, Completion done);
  void set_downstream(const std::string& id, bool enabled);
  void settle(const std::string& id, std::uint64_t delivery, iotgw_outcome outcome);

 private:
  struct Pending {
    proton::message msg;
    bool confirmed;
    Completion done;
    std::uint64_t order = 0;  // keeps resends in the order the device sent them
  };
  struct InFlight {
    std::string device;
    Pending pending;
  };
  struct Device {
    std::string token;
    std::int64_t expiry = 0;  // of the token; renewed at 80% of its life when we minted it
    std::int64_t renew_at = 0;
    Minter mint;
    std::weak_ptr<DeviceChannel> channel;
    bool authorized = false;
    bool want_c2d = false;
    proton::sender telemetry;
    proton::receiver c2d;
    std::deque<Pending> waiting;  // until the telemetry link has credit
    std::map<std::uint64_t, proton::delivery> unsettled;
    std::uint64_t next_delivery = 1;
  };

  // proton::messaging_handler
  void on_connection_open(proton::connection& c) override;
  void on_message(proton::delivery& d, proton::message& m) override;
  void on_sendable(proton::sender& s) override;
  void on_tracker_accept(proton::tracker& t) override;
  void on_tracker_reject(proton::tracker& t) override;
  void on_tracker_release(proton::tracker& t) override;
  void on_sender_close(proton::sender& s) override;
  void on_receiver_close(proton::receiver& r) override;
  void on_transport_error(proton::transport& t) override;
  void on_error(const proton::error_condition& e) override;

  void connect();
  void pump();  // moves bytes between the socket and the driver, dispatches events
  void arm_tick();
  void lost(const std::string& why);
  void put_token(const std::string& id);
  void flush(const std::string& id, Device& d);
  void open_c2d(const std::string& id, Device& d);
  void finish(proton::tracker& t, iotgw_outcome outcome, const std::string& reason);

  boost::asio::io_context& loop_;
  HubTarget target_;
  Logger& log_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;  // Proton's ticks and reconnect backoff
  std::unique_ptr<proton::io::connection_driver> driver_;
  bool open_ = false, reading_ = false, writing_ = false, stopped_ = false;
  std::chrono::milliseconds backoff_{100};
  proton::sender cbs_out_;
  proton::receiver cbs_in_;
  std::uint64_t next_cbs_ = 1;
  std::map<std::string, std::string> cbs_waiting_;  // correlation id -> device
  std::map<std::string, Device> devices_;
  // Which device a telemetry or C2D link serves: link events find their device without a walk
  // over up to 995 devices.
  std::map<proton::link, std::string> link_device_;
  Device* device_of(const proton::link& l, std::string& id);
  // Sent, no outcome yet. Kept whole: after a lost connection they are sent again
  // (at-least-once), never reported as done.
  std::map<proton::tracker, InFlight> in_flight_;
  std::uint64_t next_order_ = 1;
  void publish_stats();  // copies the loop's counts where stats() reads them
  std::atomic<bool> up_{false};
  std::atomic<std::size_t> device_count_{0}, in_flight_count_{0};
  std::atomic<unsigned> reconnects_{0};
  mutable std::mutex error_mutex_;
  std::string last_error_;
  boost::asio::steady_timer renew_timer_;
  void renew_tokens();
};

}  // namespace iotgw::bridge
