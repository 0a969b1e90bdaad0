#include "client.hpp"

#include <charconv>
#include <string_view>

#include "packet_reader.hpp"

#include <netinet/in.h>
#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <iostream>
#include <utility>

namespace iotgw::bench {

using namespace iotgw::mqtt;
using boost::asio::ip::tcp;

namespace {

constexpr std::size_t kQos0Backlog = std::size_t{64} * 1024;  // bytes waiting to be written

}  // namespace

Client::Client(boost::asio::io_context& io, ClientPlan plan, Totals& totals, Event on_event)
    : plan_(std::move(plan)),
      stream_(io, plan_.ws_path, plan_.tls),
      socket_(stream_.socket()),
      totals_(totals),
      on_event_(std::move(on_event)),
      payload_(plan_.publish_topic.empty() ? 0 : plan_.size, 'x'),
      buf_(plan_.read_buffer),
      window_(plan_.window) {}

void Client::start(const tcp::endpoint& server) {
  boost::system::error_code ec;
  socket_.open(server.protocol(), ec);
  if (!ec && plan_.source) {
    // The port is chosen at connect, by the whole 4-tuple: binding one first searches the
    // source address's ports one by one, and tens of thousands of connections stall in it.
    socket_.set_option(
        boost::asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>(true), ec);
    if (!ec) socket_.bind(tcp::endpoint(*plan_.source, 0), ec);
  }
  if (ec) return fail("socket: " + ec.message());
  socket_.async_connect(
      server, [self = shared_from_this(), server](const boost::system::error_code& e) {
        if (e) return self->fail("connect: " + e.message());
        self->socket_.set_option(tcp::no_delay(true));
        self->stream_.async_start(server.address().to_string(),
                                  [self](const boost::system::error_code& up) {
                                    if (up) return self->fail("handshake: " + up.message());
                                    self->hello();
                                  });
      });
}

void Client::allow(long budget) {
  budget_ = budget;
  if (connected_) pump();
}

void Client::close() {
  boost::system::error_code ignored;
  failed_ = true;  // what follows is no error
  socket_.close(ignored);
}

void Client::hello() {
  Connect c;
  c.level = static_cast<std::uint8_t>(plan_.level);
  c.client_id = plan_.id;
  c.keep_alive = 0;  // idle connections stay idle: no PINGREQ traffic while measuring
  c.username = plan_.username;
  c.password = plan_.password;
  send(c);
  read();
}

void Client::on_packet(const Packet& p) {
  if (const auto* ack = std::get_if<Connack>(&p)) {
    const int code = plan_.level == ProtocolLevel::v5 ? ack->reason : static_cast<int>(ack->code);
    if (code != 0) return fail("CONNACK " + std::to_string(code));
    if (ack->props.receive_maximum) {
      window_ = std::min<long>(window_, *ack->props.receive_maximum);
    }
    connected_ = true;
    ++totals_.connected;
    if (!plan_.filters.empty()) {
      Subscribe s{1, {}};
      for (const auto& f : plan_.filters)
        s.subscriptions.push_back({f, static_cast<std::uint8_t>(plan_.qos)});
      send(s);
    }
    pump();
  } else if (const auto* sub = std::get_if<Suback>(&p)) {
    for (const auto code : sub->codes) {
      if (code >= kSubackFailure) return fail("SUBSCRIBE refused");
    }
    subscribed_ = true;
    pump();
  } else if (const auto* a = std::get_if<Ack>(&p)) {
    if (a->type != PacketType::puback) return;
    if (a->reason >= 0x80) return fail("PUBACK " + std::to_string(a->reason));
    auto it = pending_acks_.find(a->packet_id);
    if (it == pending_acks_.end()) return fail("PUBACK for an unknown packet id");
    record_since(totals_.latency, it->second);
    pending_acks_.erase(it);
    ++totals_.acked;
    pump();
  } else if (const auto* pub = std::get_if<Publish>(&p)) {
    if (on_iothub_publish(*pub)) return on_event_();
    ++totals_.received;
    // A publisher's histogram is its PUBACK latency: what it receives is not timed.
    if (plan_.publish_topic.empty() && pub->payload.size() >= sizeof(std::int64_t)) {
      std::int64_t stamp = 0;
      std::memcpy(&stamp, pub->payload.data(), sizeof stamp);
      record_since(totals_.latency, stamp);
    }
    if (pub->qos == 1) send(Ack{PacketType::puback, pub->packet_id});
  }
  on_event_();
}

namespace {

// The value of `$rid` in an IoT Hub topic's property bag; empty when there is none.
std::string_view rid_of(std::string_view topic) {
  const auto at = topic.find("$rid=");
  if (at == std::string_view::npos) return {};
  const auto rid = topic.substr(at + 5);
  return rid.substr(0, rid.find('&'));
}

}  // namespace

bool Client::on_iothub_publish(const Publish& pub) {
  const std::string_view topic = pub.topic;
  if (plan_.twin_get && topic.starts_with("$iothub/twin/res/")) {
    if (!topic.starts_with("$iothub/twin/res/200/")) {
      fail("twin answer " + pub.topic);
      return true;
    }
    std::uint16_t id = 0;
    const auto rid = rid_of(topic);
    std::from_chars(rid.data(), rid.data() + rid.size(), id);
    auto it = pending_acks_.find(id);
    if (it == pending_acks_.end()) {
      fail("twin answer for an unknown $rid: " + pub.topic);
      return true;
    }
    record_since(totals_.latency, it->second);
    pending_acks_.erase(it);
    ++totals_.acked;
    pump_twin();
    return true;
  }
  if (plan_.answer_methods && topic.starts_with("$iothub/methods/POST/")) {
    ++totals_.received;
    Publish answer;
    answer.topic = "$iothub/methods/res/200/?$rid=" + std::string(rid_of(topic));
    answer.payload = R"({"ok":true})";
    send(answer);
    return true;
  }
  return false;
}

// As pump, with twin GETs: each one's $rid is its slot in pending_acks_.
void Client::pump_twin() {
  if (!subscribed_) return;
  while (sent_ < budget_ && in_flight() < window_) {
    while (next_id_ == 0 || pending_acks_.count(next_id_) != 0) ++next_id_;
    const auto id = next_id_++;
    Publish get;
    get.topic = "$iothub/twin/GET/?$rid=" + std::to_string(id);
    pending_acks_[id] = now_ns();
    ++sent_;
    ++totals_.sent;
    send(get);
  }
}

void Client::pump() {
  if (plan_.twin_get) return pump_twin();
  if (plan_.publish_topic.empty()) return;
  // QoS 0 has no window: the socket's pace bounds it, with at most 64 KiB waiting to be written.
  while (sent_ < budget_ &&
         (plan_.qos == 0 ? pending_.size() < kQos0Backlog : in_flight() < window_)) {
    Publish p;
    p.topic = plan_.publish_topic;
    const auto stamp = now_ns();
    std::memcpy(payload_.data(), &stamp, sizeof stamp);
    p.payload = payload_;
    p.qos = static_cast<std::uint8_t>(plan_.qos);
    if (plan_.qos == 1) {
      while (next_id_ == 0 || pending_acks_.count(next_id_) != 0) ++next_id_;
      p.packet_id = next_id_++;
      pending_acks_[p.packet_id] = stamp;
    }
    ++sent_;
    if (plan_.qos == 0) {
      ++queued_qos0_;
    } else {
      ++totals_.sent;
    }
    send(p);
  }
}

void Client::send(const Packet& p) {
  encode(p, pending_, plan_.level);
  flush();
}

void Client::flush() {
  if (writing_ || pending_.empty() || failed_) return;
  writing_ = true;
  out_.swap(pending_);
  pending_.clear();
  writing_qos0_ = std::exchange(queued_qos0_, 0);
  stream_.async_write(
      boost::asio::buffer(out_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        self->writing_ = false;
        self->out_.clear();
        if (ec) return self->fail("write: " + ec.message());
        const auto written = std::exchange(self->writing_qos0_, 0);
        self->totals_.sent += written;
        self->totals_.acked += written;  // nothing more to wait for
        self->flush();
        if (self->plan_.qos == 0 && self->connected_) {
          self->pump();
          self->on_event_();
        }
      });
}

void Client::read() {
  stream_.async_read_some(
      boost::asio::buffer(buf_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec) return self->fail("read: " + ec.message());
        auto& in = self->in_;
        in.insert(in.end(), self->buf_.begin(), self->buf_.begin() + static_cast<long>(n));
        std::string error;
        const bool mqtt = read_packets(
            in, self->plan_.level,
            [&](const Packet& p) {
              self->on_packet(p);
              return !self->failed_;
            },
            error);
        if (!mqtt) return self->fail("malformed: " + error);
        if (self->failed_) return;
        self->read();
      });
}

void Client::fail(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  ++totals_.errors;
  std::cerr << plan_.id << ": " << why << "\n";
  boost::system::error_code ignored;
  socket_.close(ignored);
  on_event_();
}

}  // namespace iotgw::bench
