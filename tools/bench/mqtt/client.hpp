// One MQTT client of the load generator: connects (optionally from a given source address),
// then publishes, subscribes, or just stays, as its plan says. Single-threaded: every call on
// the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <climits>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "client_stream.hpp"
#include "codec/codec.hpp"
#include "report.hpp"
#include "stamp.hpp"

namespace iotgw::bench {

struct ClientPlan {
  std::string id, username, password;
  std::string publish_topic;         // empty: publishes nothing
  std::vector<std::string> filters;  // subscribed once connected
  bool twin_get = false;             // publishes twin GETs (a window of them) instead of messages
  bool answer_methods = false;       // answers every direct method call with 200 at once
  int qos = 1, window = 16;
  std::size_t size = 256;
  std::optional<boost::asio::ip::address> source;  // bound before connecting
  std::size_t read_buffer = 16 * 1024;
  iotgw::mqtt::ProtocolLevel level = iotgw::mqtt::ProtocolLevel::v311;
  std::optional<std::string> ws_path;              // MQTT over WebSockets on this path
  std::shared_ptr<boost::asio::ssl::context> tls;  // MQTT over TLS with this context
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  // Called on CONNACK accepted, on SUBACK (all filters granted), and after each PUBACK or
  // received message: the run decides when it is over.
  using Event = std::function<void()>;

  Client(boost::asio::io_context& io, ClientPlan plan, Totals& totals, Event on_event);

  void start(const boost::asio::ip::tcp::endpoint& server);
  // Publishing goes on until `budget` messages were sent (raised by a pacer for fixed rates).
  void allow(long budget);
  void stop_publishing() { budget_ = sent_; }
  void close();

  bool connected() const { return connected_; }
  bool subscribed() const { return subscribed_; }
  bool failed() const { return failed_; }
  const ClientPlan& plan() const { return plan_; }
  long sent() const { return sent_; }
  long in_flight() const { return static_cast<long>(pending_acks_.size()); }
  // Nothing waiting to be written or acknowledged.
  bool settled() const { return pending_.empty() && !writing_ && pending_acks_.empty(); }

 private:
  void hello();
  void on_packet(const iotgw::mqtt::Packet& p);
  void pump();
  void pump_twin();
  // IoT Hub's topics the device hears: a twin answer or a method call. False for others.
  bool on_iothub_publish(const iotgw::mqtt::Publish& pub);
  void send(const iotgw::mqtt::Packet& p);
  void flush();
  void read();
  void fail(const std::string& why);

  ClientPlan plan_;
  ClientStream stream_;
  boost::asio::ip::tcp::socket& socket_;
  Totals& totals_;
  Event on_event_;
  std::string payload_;
  std::vector<std::uint8_t> pending_, out_, in_, buf_;
  bool writing_ = false, failed_ = false, connected_ = false, subscribed_ = false;
  long sent_ = 0, budget_ = 0;
  // QoS 0 counts as sent once written: what a closed socket never wrote was not sent.
  long queued_qos0_ = 0, writing_qos0_ = 0;
  std::unordered_map<std::uint16_t, std::int64_t> pending_acks_;  // packet id -> sent at (ns)
  std::uint16_t next_id_ = 1;
  long window_ = 16;  // plan_.window, or less when an MQTT 5 server's Receive Maximum says so
};

}  // namespace iotgw::bench
