// Glue between one transport connection, its adapter's per-connection state, the listener's
// pipeline and the bridge. An iotgw_conn handle handed to an adapter is a Session. Lives on the
// connection's loop; everything here runs there.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "bridge/bridge.hpp"
#include "runtime/admission.hpp"
#include "runtime/device_rate.hpp"
#include "runtime/listener_shared.hpp"
#include "runtime/upgrade_view.hpp"
#include "transport/connection.hpp"

struct iotgw_conn {
  virtual ~iotgw_conn() = default;
};

namespace iotgw::runtime {

class Session final : public iotgw_conn,
                      public transport::ConnectionHandler,
                      public bridge::DeviceChannel,
                      public std::enable_shared_from_this<Session> {
 public:
  // `loop` is the index of the event loop the connection lives on.
  Session(std::shared_ptr<ListenerShared> listener, std::size_t loop);
  ~Session() override;

  // transport::ConnectionHandler
  bool on_open(transport::Connection& conn, std::string& reason) override;
  bool on_bytes(std::span<const std::uint8_t> data, std::size_t& consumed,
                std::string& reason) override;
  void on_writable() override;
  void on_timer(std::uint32_t id) override;
  void on_drain() override;
  void on_closed() override;

  // bridge::DeviceChannel
  void deliver(std::unique_ptr<iotgw_msg> msg, std::uint64_t delivery) override;
  void attached(iotgw_status status, const std::string& reason) override;
  void close(iotgw_close_cause cause, const std::string& reason) override;
  void upstream_ready(bool ready) override;
  void hub_request(const bridge::HubRequest& request) override;

  // What the host api does for this connection.
  transport::Connection* connection() { return conn_; }
  iotgw_status authenticate(const iotgw_credentials& credentials, std::uint64_t& token);
  iotgw_status send_upstream(std::unique_ptr<iotgw_msg> msg, iotgw_qos qos, std::uint64_t& token);
  iotgw_status set_downstream(bool enabled);
  void settle(std::uint64_t delivery, iotgw_outcome outcome, const char* reason);
  iotgw_status request(const iotgw_op_request& request, std::uint64_t& token);
  iotgw_status respond(std::uint64_t id, int status, iotgw_bytes body);
  void refuse_over_rate(bool refuse) { refuse_over_rate_ = refuse; }

  std::size_t in_flight() const { return in_flight_; }
  // The connection's place at the listener's gate: no longer pending once its login is answered.
  void hold(std::shared_ptr<Admission::Ticket> ticket) { ticket_ = std::move(ticket); }
  const std::string& device_id() const;

 private:
  void on_auth_done(std::uint64_t token, iotgw_status status, const bridge::Identity& identity,
                    const std::string& reason);
  void on_upstream_done(std::uint64_t token, iotgw_outcome outcome, const std::string& reason);
  void on_operation_done(std::uint64_t token, const bridge::OperationResult& result);
  // Counts a message against the device's rate: true when it is refused (refuse_over_rate);
  // otherwise a device over its rate has its reading paused until the rate allows.
  bool over_rate(std::size_t bytes);
  const iotgw_adapter_vtable& adapter() const { return listener_->adapter->vtable(); }
  const std::shared_ptr<const Pipeline>& pipeline() const { return listener_->pipelines[loop_]; }

  std::shared_ptr<ListenerShared> listener_;  // keeps the adapter instance and library alive
  std::size_t loop_;
  transport::Connection* conn_ = nullptr;       // from on_open to on_closed
  void* state_ = nullptr;                       // the adapter's, from open to close
  std::shared_ptr<const UpgradeView> upgrade_;  // ws and wss: the request, as the ABI shows it
  // Once logged in, the device's id alone stays: the rest of its identity is the adapter's and
  // the bridge's once the hub answered (a SAS token would be a couple of hundred bytes per device).
  std::string device_id_;
  std::unique_ptr<bridge::Identity> login_;  // from the authenticators' yes to the hub's answer
  std::unique_ptr<bridge::BridgeDevice> device_;
  bool authenticating_ = false;
  std::uint64_t auth_token_ = 0;  // answered once the bridge has attached the device
  std::uint64_t next_token_ = 1;
  std::size_t in_flight_ = 0;
  std::shared_ptr<Admission::Ticket> ticket_;
  std::unique_ptr<DeviceRate> rate_;  // when the listener bounds each device's rate
  bool refuse_over_rate_ = false;
  std::unique_ptr<boost::asio::steady_timer> rate_timer_;  // armed while slowed
};

}  // namespace iotgw::runtime
