// iotgw-hub's AMQP 1.0 endpoint: CBS, device telemetry in, service telemetry out (consumer
// groups). Runs on one Proton container thread; all state below is touched only there, except
// the registry, which SIGHUP replaces from another thread under a mutex.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include <proton/connection.hpp>
#include <proton/container.hpp>
#include <proton/listen_handler.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>

#include <deque>
#include <vector>

#include <proton/tracker.hpp>

#include "addresses.hpp"
#include "c2d_delivery.hpp"
#include "device_operations.hpp"
#include "durable_log.hpp"
#include "hub_metrics.hpp"
#include "iotgw/common/log.hpp"
#include "iotgw/common/registry.hpp"
#include "telemetry_log.hpp"
#include "token_check.hpp"
#include "twin_store.hpp"

namespace iotgw::hub {

struct HubLimits {
  std::size_t max_d2c_bytes = 256 * 1024;
  std::size_t telemetry_retention = 100'000;  // messages kept for consumer groups
  std::size_t max_connections = 10'000;
  std::size_t max_c2d_bytes = 64 * 1024;
  std::size_t max_feedback_records = 10'000;
  C2dLimits c2d;
  TwinLimits twin;
};

// Where the hub listens: plain AMQP (5672) and, with a certificate, AMQP over TLS (5671).
struct HubEndpoints {
  std::string listen = "127.0.0.1:5672";
  std::string tls_listen;  // empty: no TLS listener
  std::string cert_file, key_file;
};

class HubServer final : public proton::messaging_handler {
 public:
  // `metrics` (in main's Registry) counts what the hub does; it outlives the server.
  HubServer(std::shared_ptr<const Registry> registry, HubEndpoints endpoints, Logger& log,
            HubMetrics& metrics, HubLimits limits = {});

  // Runs until stop(). Throws on a listen failure.
  void run();
  void stop();                                                  // any thread
  void set_registry(std::shared_ptr<const Registry> registry);  // any thread
  // Keep what is accepted in dir (see DurableLog); replays what it holds. Before run().
  void open_data_dir(const std::filesystem::path& dir, bool fsync);
  // The SASL PLAIN decision (see PlainCheck): the principal is "device:{id}" or "service".
  bool check_plain(std::string_view user, std::string_view password, std::string& result) const;

  // Runs `work` on the hub's thread, where twins and method calls live; false once stopping.
  // Any thread.
  bool on_hub_thread(std::function<void()> work);
  TwinStore& twins() { return twins_; }                   // on the hub's thread only
  DeviceOperations& operations() { return operations_; }  // on the hub's thread only
  std::shared_ptr<const Registry> registry() const;       // any thread

 private:
  struct ConnState {
    // What tokens this connection holds, each until its expiry (Unix seconds): a device id, and
    // the service right. A new token for the same thing extends it.
    std::map<std::string, std::int64_t> devices;
    std::int64_t service_until = 0;
    bool holds_device(const std::string& id, std::int64_t now) const {
      auto it = devices.find(id);
      return it != devices.end() && it->second > now;
    }
    proton::sender cbs_reply;
    std::vector<proton::message> pending_replies;  // before the reply link is attached
    bool open = false;                             // counted in the open-connections gauge
  };
  struct Consumer {
    std::string group;
    std::int64_t next = 1;
  };
  struct Inbound {
    Node node;
  };

  // One per listening address: says how connections accepted there are set up.
  class Listen final : public proton::listen_handler {
   public:
    Listen(HubServer& server, std::string address, bool tls)
        : server_(server), address_(std::move(address)), tls_(tls) {}
    proton::connection_options on_accept(proton::listener& l) override;
    void on_open(proton::listener& l) override;
    void on_error(proton::listener& l, const std::string& what) override;

   private:
    HubServer& server_;
    std::string address_;
    bool tls_;
  };

  // proton::messaging_handler
  void on_connection_open(proton::connection& c) override;
  void on_transport_close(proton::transport& t) override;
  void on_receiver_open(proton::receiver& r) override;
  void on_sender_open(proton::sender& s) override;
  void on_receiver_close(proton::receiver& r) override;
  void on_sender_close(proton::sender& s) override;
  void on_message(proton::delivery& d, proton::message& m) override;
  void dispatch(proton::delivery& d, proton::message& m);
  void on_sendable(proton::sender& s) override;
  void on_container_start(proton::container& c) override;
  // Proton's default throws out of run(): one client's broken connection must not stop the hub.
  void on_error(const proton::error_condition& e) override;
  void on_transport_error(proton::transport& t) override;
  void on_tracker_accept(proton::tracker& t) override;
  void on_tracker_reject(proton::tracker& t) override;
  void on_tracker_release(proton::tracker& t) override;

  void put_token(ConnState& state, proton::delivery& d, const proton::message& m);
  // What a PLAIN user name grants: {device}@sas.{hub} or {policy}@sas.root.{hub}.
  Grant plain_grant(std::string_view user, std::string_view password) const;
  void telemetry(const Node& node, proton::delivery& d, proton::message& m);
  void pump(proton::sender& s, Consumer& c);
  void take_over(const std::string& device, const proton::connection& from);
  void sweep();
  // Closes links whose token ran out, or (given a new registry) whose device is gone or disabled.
  void expire_grants(const Registry* changed);
  std::shared_ptr<const Registry> swept_registry_;
  void reply_cbs(proton::connection c, ConnState& state, proton::message reply);
  void refuse(proton::link& l, const std::string& why);
  void not_found(proton::link& l, const std::string& why);
  void reject_telemetry(proton::delivery& d, TelemetryRefusal reason, const std::string& condition,
                        const std::string& why);
  // Refuses the link (and says false) unless this connection holds a token for the node.
  bool admit(const ConnState& state, const Node& node, proton::link& l);

  HubEndpoints endpoints_;
  std::unique_ptr<Listen> plain_listen_, tls_listen_;
  Logger& log_;
  HubMetrics& metrics_;
  HubLimits limits_;
  mutable std::mutex registry_mutex_;
  std::shared_ptr<const Registry> registry_;
  std::mutex container_mutex_;  // stop() comes from the signal thread
  std::unique_ptr<proton::container> container_;
  std::atomic<bool> stopping_{false};  // the sweep stops re-arming, so run() can return
  std::map<proton::connection, ConnState> connections_;
  std::map<proton::receiver, Inbound> inbound_;
  std::map<proton::sender, Consumer> consumers_;
  TelemetryLog telemetry_;
  std::vector<char> encode_buffer_;   // telemetry(): encode_exact's scratch
  proton::message consumer_message_;  // pump(): each retained message decoded here to go out
  C2dDelivery c2d_;
  std::unique_ptr<DurableLog> durable_ = std::make_unique<DurableLog>();
  TwinStore twins_{limits_.twin, [this](const std::string& device, const std::string& document) {
                     durable_->twin(device, document);
                   }};
  DeviceOperations operations_{twins_, metrics_.operations, log_};
};

}  // namespace iotgw::hub
