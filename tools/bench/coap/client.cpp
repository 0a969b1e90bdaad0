#include "client.hpp"

#include <boost/asio/post.hpp>
#include <iostream>

#include "../mqtt/stamp.hpp"
#include "codec/codec.hpp"

namespace iotgw::bench::coap {

using boost::asio::ip::udp;
namespace wire = iotgw::coap;

namespace {

constexpr std::size_t kStamps = 4096;       // NON sends remembered for timing their answers
constexpr int kDrain = 64;                  // datagrams read per wake-up, so clients take turns
constexpr std::size_t kMaxDatagram = 1500;  // a response bigger than this is not ours anyway
// A message id is used again after 65,536 messages; a server that deduplicates for
// EXCHANGE_LIFETIME (247 s, RFC 7252 4.8.2) answers a reused one from its cache.
constexpr std::int64_t kExchangeLifetimeNs = 247'000'000'000;

}  // namespace

Client::Client(boost::asio::io_context& io, const RequestPlan& plan, int window, std::uint32_t seed,
               Totals& totals, Event on_event)
    : socket_(io),
      requests_(plan),
      exchanges_(seed),
      totals_(totals),
      on_event_(std::move(on_event)),
      id_(plan.device),
      confirmable_(plan.confirmable),
      window_(static_cast<std::size_t>(window)),
      in_(kMaxDatagram),
      non_sent_(plan.confirmable ? 0 : kStamps),
      next_non_(seed + 1) {}

void Client::start(const udp::endpoint& server) {
  boost::system::error_code ec;
  socket_.open(server.protocol(), ec);
  // Connected: the kernel drops datagrams from anyone else, and no address goes with each send.
  if (!ec) socket_.connect(server, ec);
  if (!ec) socket_.non_blocking(true, ec);
  if (ec) return fail("socket: " + ec.message());
  boost::system::error_code ignored;
  socket_.set_option(udp::socket::receive_buffer_size(1 << 20), ignored);
  const auto& hello = exchanges_.open(now_ns());
  hello_seq_ = hello.seq;
  send(requests_.hello(hello.seq, hello.sent_ns));
  read();
}

void Client::allow(long budget) {
  budget_ = budget;
  pump();
}

void Client::close() {
  failed_ = true;  // what follows is no error
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void Client::pump() {
  if (!connected_ || failed_) return;
  if (sent_ == 0) first_ns_ = now_ns();
  if (!warned_wrap_ && sent_ >= 0x10000 && now_ns() - first_ns_ < kExchangeLifetimeNs) {
    warned_wrap_ = true;
    std::cerr << id_ << ": message ids reused within EXCHANGE_LIFETIME; a deduplicating server "
              << "answers those from its cache (use more clients or fewer messages each)\n";
  }
  confirmable_ ? pump_con() : pump_non();
}

void Client::pump_con() {
  while (sent_ < budget_ && exchanges_.size() < window_) {
    const auto& e = exchanges_.open(now_ns());
    ++sent_;
    ++totals_.sent;
    // Unsent for want of buffer room, it goes again on its timeout, as a lost one would.
    send(requests_.next(e.seq, e.sent_ns));
    if (failed_) return;
  }
}

// NON has no window: `window` at a time, then the other clients and the answers get a turn.
void Client::pump_non() {
  if (waiting_room_ || sent_ >= budget_) return;
  for (std::size_t n = 0; n < window_ && sent_ < budget_; ++n) {
    const auto seq = next_non_;
    const auto stamp = now_ns();
    if (!send(requests_.next(seq, stamp))) {
      if (failed_) return;
      waiting_room_ = true;
      socket_.async_wait(udp::socket::wait_write,
                         [self = shared_from_this()](const boost::system::error_code& ec) {
                           self->waiting_room_ = false;
                           if (!ec) self->pump();
                         });
      return;
    }
    non_sent_[seq % kStamps] = stamp;
    ++next_non_;
    ++sent_;
    ++totals_.sent;
    ++totals_.acked;  // as MQTT QoS 0: nothing more to wait for
  }
  if (sent_ < budget_ && !pump_posted_) {
    pump_posted_ = true;
    boost::asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->pump_posted_ = false;
      self->pump();
    });
  }
  on_event_();
}

bool Client::send(std::span<const std::uint8_t> datagram) {
  boost::system::error_code ec;
  socket_.send(boost::asio::buffer(datagram.data(), datagram.size()), 0, ec);
  if (!ec) return true;
  if (ec != boost::asio::error::would_block && ec != boost::asio::error::no_buffer_space) {
    fail("send: " + ec.message());
  }
  return false;
}

void Client::poll(std::int64_t now) {
  if (failed_) return;
  std::vector<Exchange> given_up;  // counted once poll is done with the exchanges
  exchanges_.poll(
      now,
      [this](const Exchange& e) {
        ++totals_.retransmitted;
        send(e.seq == hello_seq_ ? requests_.hello(e.seq, e.sent_ns)
                                 : requests_.next(e.seq, e.sent_ns));
      },
      [&given_up](const Exchange& e) { given_up.push_back(e); });
  for (const auto& e : given_up) lose(e, "no answer after 4 retransmissions");
  pump();
}

// Woken when datagrams wait, then read without blocking until none does (or kDrain were read).
void Client::read() {
  socket_.async_wait(
      udp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->failed_) return;
        for (int n = 0; n < kDrain && !self->failed_; ++n) {
          boost::system::error_code e;
          const auto got = self->socket_.receive(boost::asio::buffer(self->in_), 0, e);
          if (e == boost::asio::error::would_block) break;
          // A connected socket hears the server's ICMP port unreachable here.
          if (e) return self->fail("receive: " + e.message());
          self->on_datagram({self->in_.data(), got});
        }
        if (!self->failed_) self->read();
      });
}

void Client::on_datagram(std::span<const std::uint8_t> datagram) {
  wire::Message m;
  std::string error;
  if (wire::decode(datagram, m, error) != wire::Decoded::message) return;
  if (m.type == wire::Type::ack || m.type == wire::Type::rst) {
    auto* e = exchanges_.by_id(m.id);
    if (e == nullptr) return;  // an answer to a retransmission already answered
    if (m.type == wire::Type::rst) {
      const auto reset = *e;
      exchanges_.close(m.id);
      return lose(reset, "reset");
    }
    if (m.code.empty()) {
      e->acknowledged = true;  // the response comes separately, matched by its token
      return;
    }
    return answered(*e, m.code);
  }
  // A separate response (CON, acknowledged even when a retransmission of one already seen)
  // or the answer to a NON.
  if (m.type == wire::Type::con) {
    wire::Message ack;
    ack.type = wire::Type::ack;
    ack.id = m.id;
    std::vector<std::uint8_t> out;
    wire::encode(ack, out);
    send(out);
  }
  std::uint32_t seq = 0;
  if (m.code.request() || m.code.empty() || !token_seq(m.token, seq)) return;
  on_response(seq, m.code);
}

void Client::on_response(std::uint32_t seq, wire::Code code) {
  if (auto* e = exchanges_.by_token(seq)) return answered(*e, code);
  // NON: answered if sent lately enough to be remembered (the distance wraps as seq does).
  if (confirmable_ || next_non_ - seq - 1 >= kStamps) return;
  if (code.cls() == 2) {
    ++totals_.received;
    record_since(totals_.latency, non_sent_[seq % kStamps]);
  } else {
    ++totals_.refused;
  }
  on_event_();
}

void Client::answered(const Exchange& e, wire::Code code) {
  const bool hello = e.seq == hello_seq_;
  if (code.cls() != 2) {
    if (hello) return fail("first request (with the identity) answered " + code.str());
    ++totals_.refused;
  } else if (hello) {
    connected_ = true;
    ++totals_.connected;
  } else {
    ++totals_.acked;
    record_since(totals_.latency, e.sent_ns);
  }
  exchanges_.close(message_id(e.seq));
  pump();
  on_event_();
}

void Client::lose(const Exchange& e, const char* why) {
  if (e.seq == hello_seq_) return fail(std::string("first request: ") + why);
  ++totals_.lost;
  if (totals_.lost == 1) std::cerr << id_ << ": a CON lost: " << why << "\n";
  pump();
  on_event_();
}

void Client::fail(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  ++totals_.errors;
  std::cerr << id_ << ": " << why << "\n";
  exchanges_.drain([this](const Exchange& e) {
    if (e.seq != hello_seq_) ++totals_.lost;
  });
  boost::system::error_code ignored;
  socket_.close(ignored);
  on_event_();
}

}  // namespace iotgw::bench::coap
