// One AMQP connection from one event loop to the hub, shared by up to 995 devices (IoT Hub's
// per-connection token limit). The bytes and reconnects are AmqpTransport's, the tokens
// CbsLink's, the telemetry senders TelemetryOutboxes', the C2D receivers C2dLinks'; this class
// keeps the devices (their tokens, their hold on reading) and hands each of Proton's events to
// the unit it belongs to (TwinLinks and MethodLinks for the operations). With CBS (flavour iothub)
// each device gets a put-token, its own telemetry sender, and a C2D receiver once it asks for C2D.
// Without CBS (flavour amqp) the connection's SASL login covers everything, and senders are shared
// by target address. After a reconnect, tokens are put again and links re-attached.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>
#include <proton/session.hpp>
#include <proton/tracker.hpp>

#include "bridge/amqp_transport.hpp"
#include "bridge/bridge.hpp"
#include "bridge/c2d_links.hpp"
#include "bridge/cbs_link.hpp"
#include "bridge/link_options.hpp"
#include "bridge/method_links.hpp"
#include "bridge/telemetry_outboxes.hpp"
#include "bridge/twin_links.hpp"
#include "iotgw/common/log.hpp"

namespace iotgw::bridge {

// Where the hub is, how a connection logs in, and the addresses devices use there.
struct HubTarget {
  std::string host = "127.0.0.1";
  std::string port = "5672";
  std::string hostname;  // the hub's name: AMQP open hostname, TLS SNI and peer name, audiences
  bool tls = false;
  std::string ca_file;  // trusted CAs for amqps; empty: the system's
  // Shared by every connection to this target (copies of it share it): see AmqpTransport::Hooks.
  std::shared_ptr<std::mutex> tls_lock = std::make_shared<std::mutex>();
  // SASL PLAIN when `user` is set, else ANONYMOUS. The password is asked for at every connect,
  // so one minted from a policy key is always fresh.
  std::string user;
  std::function<std::string()> password;
  bool cbs = true;  // a put-token per device before its links (IoT Hub)
  // Templates; {deviceId} is replaced. An empty C2D address means no C2D.
  std::string telemetry_address = "/devices/{deviceId}/messages/events";
  std::string c2d_address = "/devices/{deviceId}/messages/devicebound";
  // Without CBS, a message's own `to` (set by a mapping stage) picks its target address.
  bool address_from_message = false;
  // QoS 1 messages go with the AMQP header's `durable`, so a broker stores them before it
  // answers `accepted` (brokers keep non-durable ones in memory only). Without CBS the links'
  // termini are durable too: RabbitMQ declares a /queue/ address durable only for them.
  bool durable = true;
  std::chrono::milliseconds idle_close{60'000};
  // How long a new device waits for the hub (connection and token) before its login is
  // answered "unavailable".
  std::chrono::milliseconds attach_timeout{10'000};
  // AMQP's idle timeout: without it a hub that goes silent (a blackholed path) holds the
  // connection, and every device's messages, until TCP gives up many minutes later.
  std::chrono::milliseconds idle_timeout{30'000};
};

class HubConnection final : public proton::messaging_handler,
                            public std::enable_shared_from_this<HubConnection> {
 public:
  using Completion = BridgeDevice::Completion;
  // Makes a fresh token for a device and says until when it holds (Unix seconds).
  using MintFn = std::function<std::string(const std::string& device, std::int64_t& expiry)>;
  // One per bridge, shared by every device it mints for (a copy per device was ~100 bytes of
  // each idle device); null for a token that was passed through, which the gateway cannot renew.
  using Minter = std::shared_ptr<const MintFn>;
  // Called on the loop when the connection has served no device for `idle_close`; the pool
  // decides whether to keep it.
  using IdleHandler = std::function<void(HubConnection&)>;
  static constexpr std::size_t kMaxDevices = 995;
  // A device's messages the bridge queues while they cannot be sent; at this many its reading
  // pauses, and it resumes once half have gone.
  static constexpr std::size_t kHoldAt = 16;

  HubConnection(boost::asio::io_context& loop, HubTarget target, Logger& log);
  ~HubConnection() override;

  void start(IdleHandler on_idle = {});
  // Closes the AMQP connection politely and stops reconnecting. Devices must be gone.
  void stop();
  std::size_t devices() const { return devices_.size(); }

  // Read from any thread (SIGUSR1); written on the loop.
  struct Stats {
    bool up;
    std::size_t devices, in_flight;
    std::size_t queued;  // waiting for credit or for the connection
    std::size_t held;    // devices whose reading is paused
    unsigned reconnects;
    std::uint64_t tokens_renewed;
    std::string last_error;
  };
  Stats stats() const;

  // Device operations; all on the loop. add_device returns the attachment the others name: a
  // newer connection for the same device takes over, and the older one's calls then do nothing.
  std::uint64_t add_device(const std::string& id, std::string token, std::int64_t expiry,
                           Minter mint, std::weak_ptr<DeviceChannel> channel);
  void remove_device(const std::string& id, std::uint64_t attachment);
  void send(const std::string& id, std::uint64_t attachment, proton::message msg, bool confirmed,
            Completion done);
  void set_downstream(const std::string& id, std::uint64_t attachment, bool enabled);
  void settle(const std::string& id, std::uint64_t attachment, std::uint64_t delivery,
              iotgw_outcome outcome);
  // Operations (twin, methods; IoT Hub only). `done` runs on the loop, never inside the call.
  void request(const std::string& id, std::uint64_t attachment, Operation op, OperationDone done);
  bool respond(const std::string& id, std::uint64_t attachment, std::uint64_t call, int status,
               const std::string& body);
  // An empty message to fill and send (TelemetryOutboxes::spare_message).
  proton::message spare_message() { return outboxes_.spare_message(); }

 private:
  struct Device {
    // Kept only until the hub took it when the gateway can mint another (reconnects put a fresh
    // one): an idle device does not hold a couple of hundred bytes of token.
    std::string token;
    std::int64_t expiry = 0;  // of the token; renewed at 80% of its life when we minted it
    std::int64_t renew_at = 0;
    Minter mint;
    std::weak_ptr<DeviceChannel> channel;
    std::uint64_t attachment = 0;
    bool reported = false;  // attached() was called
    std::int64_t attach_deadline_ms = 0;
    bool authorized = false;
    bool want_c2d = false;
    std::size_t queued = 0;    // in some outbox, not yet sent
    bool held = false;         // its reading is paused until `queued` drops
    bool put_waiting = false;  // its token waits in puts_waiting_ for the CBS window
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
  void on_sender_open(proton::sender& s) override;
  void on_session_error(proton::session& s) override;
  void on_transport_error(proton::transport& t) override;
  void on_transport_close(proton::transport& t) override;
  void on_error(const proton::error_condition& e) override;

  proton::connection_options connection_options();
  void lost(const std::string& why);  // the transport's: forget the links, keep what was sent
  // Puts the device's token on $cbs, or queues it while kCbsWindow puts await replies.
  void put_token(const std::string& id);
  void send_put(const std::string& id, Device& d);
  void put_waiting();  // sends queued puts while the window has room
  void on_cbs_reply(const std::string& id, const CbsLink::Reply& reply);
  void authorized(const std::string& id, Device& d);
  // Expanded per message, not kept: a device's copy would cost an idle device some 80 bytes, a
  // message a copy either way.
  std::string address_of(const std::string& id, const proton::message& msg) const;
  // The connection links may attach on: empty while there is none.
  proton::connection upstream();
  // One of the device's messages joined an outbox's queue, or left it; at kHoldAt its reading
  // pauses, and it resumes once half have gone.
  void counted(const std::string& id, bool joined);
  void open_c2d(const std::string& id, const Device& d);
  bool deliver(const std::string& id, std::unique_ptr<iotgw_msg> msg, std::uint64_t delivery);
  void hub_request(const std::string& id, const HubRequest& request);
  void check_idle();
  void tick_devices();  // each second: renew tokens, give up on devices the hub never took
  void report(Device& d, iotgw_status status, const std::string& reason);
  // A device link the hub detached with amqp:link:stolen: the device attached again on another
  // connection (another gateway replica, as IoT Hub allows one connection per device), so its
  // connection here is closed as taken over.
  void check_taken_over(const proton::link& l, const std::string& address);
  void publish_stats();  // copies the loop's counts where stats() reads them
  Device* attached(const std::string& id, std::uint64_t attachment);
  std::uint64_t next_attachment_ = 1;

  boost::asio::io_context& loop_;
  HubTarget target_;
  Logger& log_;
  IdleHandler on_idle_;
  AmqpTransport transport_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer idle_timer_;
  CbsLink cbs_;
  C2dLinks c2d_;
  TwinLinks twin_;
  MethodLinks methods_;
  std::map<std::string, Device> devices_;
  // Puts beyond the window, in order. A device that left (or was given up on) before its turn
  // costs the hub nothing: in a reconnect storm the hub otherwise works through logins whose
  // devices timed out, every new try queues behind them, and nobody gets in.
  std::deque<std::string> puts_waiting_;
  TelemetryOutboxes outboxes_;
  std::size_t queued_ = 0, held_ = 0;  // sums over devices
  std::atomic<bool> up_{false};
  std::atomic<std::size_t> device_count_{0}, in_flight_count_{0}, queued_count_{0}, held_count_{0};
  std::atomic<unsigned> reconnects_{0};
  std::atomic<std::uint64_t> tokens_renewed_{0};
  mutable std::mutex error_mutex_;
  std::string last_error_;
};

}  // namespace iotgw::bridge
