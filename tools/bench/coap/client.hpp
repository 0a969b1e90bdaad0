// One CoAP client of the load generator: one UDP socket, so one peer to the server. Its first
// request (CON, with the identity query) is its "connect"; after it, POSTs go out as CON with
// at most `window` unanswered, retransmitted on timeout, or as NON in bursts of `window`.
// Single-threaded: every call on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../mqtt/report.hpp"
#include "codec/message.hpp"
#include "exchanges.hpp"
#include "requests.hpp"

namespace iotgw::bench::coap {

class Client : public std::enable_shared_from_this<Client> {
 public:
  // After each answer, and when the client connected or failed: the run decides when it is over.
  using Event = std::function<void()>;

  Client(boost::asio::io_context& io, const RequestPlan& plan, int window, std::uint32_t seed,
         Totals& totals, Event on_event);

  void start(const boost::asio::ip::udp::endpoint& server);
  // Sending goes on until `budget` messages were sent (raised by a pacer for fixed rates).
  void allow(long budget);
  void stop_sending() { budget_ = sent_; }
  // Retransmits what is due and gives up on what ran out of retransmissions.
  void poll(std::int64_t now_ns);
  void close();

  bool connected() const { return connected_; }
  long sent() const { return sent_; }

 private:
  void pump();
  void pump_con();
  void pump_non();
  // False when the datagram did not go out: the socket's buffer is full (NON waits for room;
  // a CON is sent again on its timeout) or the socket failed.
  bool send(std::span<const std::uint8_t> datagram);
  void read();
  void on_datagram(std::span<const std::uint8_t> datagram);
  void on_response(std::uint32_t seq, iotgw::coap::Code code);
  void answered(const Exchange& e, iotgw::coap::Code code);
  // An exchange already closed that got no answer, or a reset.
  void lose(const Exchange& e, const char* why);
  void fail(const std::string& why);

  boost::asio::ip::udp::socket socket_;
  Requests requests_;
  Exchanges exchanges_;
  Totals& totals_;
  Event on_event_;
  std::string id_;
  bool confirmable_;
  std::size_t window_;
  std::vector<std::uint8_t> in_;
  // NON: when each of the last kStamps messages went out, by seq, to time its answer.
  std::vector<std::int64_t> non_sent_;
  std::uint32_t next_non_ = 0, hello_seq_ = 0;
  long sent_ = 0, budget_ = 0;
  bool connected_ = false, failed_ = false, pump_posted_ = false, waiting_room_ = false;
  bool warned_wrap_ = false;
  std::int64_t first_ns_ = 0;
};

}  // namespace iotgw::bench::coap
