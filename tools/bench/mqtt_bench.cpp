// iotgw-bench: an MQTT load generator (Asio, one thread), for iotgw and any MQTT server.
//
//   iotgw-bench pub --port P [--host 127.0.0.1] [--clients N] [--count M] [--size B] [--qos 0|1]
//                   [--window W] [--iothub HOSTNAME] [--prefix d] [--password PW]
//                   [--c2d K] [--topic T] [--timeout S]
//
// N clients connect (client ids {prefix}0..), each publishes M messages of B bytes, keeping at
// most W QoS 1 publishes unacknowledged. --iothub uses IoT Hub's user name and topics
// (devices/{id}/messages/events/); otherwise --topic (default bench/{id}). --c2d K subscribes
// every client to its devicebound topic and waits until K messages arrived in all (each is
// PUBACKed). Prints: clients, sent, acked, received, seconds, msgs/s. Exit 0 when everything was
// acknowledged (and K received), 1 otherwise.
#include <chrono>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "codec/codec.hpp"

namespace {

using namespace iotgw::mqtt;
using boost::asio::ip::tcp;

struct Options {
  std::string host = "127.0.0.1", port, iothub, prefix = "d", password = "bench", topic;
  int clients = 1, window = 16, qos = 1, timeout_s = 120;
  long count = 1000, c2d = 0;
  std::size_t size = 256;
};

struct Totals {
  long sent = 0, acked = 0, received = 0, connected = 0, failed = 0;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(boost::asio::io_context& io, const Options& o, int index, Totals& totals,
         std::function<void()> check)
      : socket_(io),
        o_(o),
        id_(o.prefix + std::to_string(index)),
        totals_(totals),
        check_(std::move(check)),
        payload_(o.size, 'x') {
    topic_ = !o.iothub.empty() ? "devices/" + id_ + "/messages/events/"
             : o.topic.empty() ? "bench/" + id_
                               : o.topic;
  }

  void start(const tcp::resolver::results_type& endpoints) {
    boost::asio::async_connect(
        socket_, endpoints,
        [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
          if (ec) return self->fail("connect: " + ec.message());
          self->socket_.set_option(tcp::no_delay(true));
          self->hello();
        });
  }
  bool done() const { return acked_ == o_.count || failed_; }

 private:
  void hello() {
    Connect c;
    c.client_id = id_;
    c.keep_alive = 60;
    if (!o_.iothub.empty())
      c.username = o_.iothub + "/" + id_ + "/?api-version=2021-04-12";
    else
      c.username = id_;
    c.password = o_.password;
    send(c);
    read();
  }

  void on_packet(const Packet& p) {
    if (const auto* ack = std::get_if<Connack>(&p)) {
      if (ack->code != ConnectCode::accepted) {
        return fail("CONNACK " + std::to_string(static_cast<int>(ack->code)));
      }
      ++totals_.connected;
      if (o_.c2d > 0) {
        send(Subscribe{1, {{"devices/" + id_ + "/messages/devicebound/#", 1}}});
      }
      pump();
    } else if (const auto* a = std::get_if<Ack>(&p)) {
      if (a->type == PacketType::puback) {
        --in_flight_;
        ++acked_;
        ++totals_.acked;
        pump();
      }
    } else if (const auto* pub = std::get_if<Publish>(&p)) {
      ++totals_.received;
      if (pub->qos == 1) send(Ack{PacketType::puback, pub->packet_id});
    }
    check_();
  }

  void pump() {
    while (sent_ < o_.count && (o_.qos == 0 || in_flight_ < o_.window)) {
      Publish p;
      p.topic = topic_;
      p.payload = payload_;
      p.qos = static_cast<std::uint8_t>(o_.qos);
      if (o_.qos == 1) {
        p.packet_id = next_id_++;
        if (next_id_ == 0) next_id_ = 1;
        ++in_flight_;
      }
      send(p);
      ++sent_;
      ++totals_.sent;
      if (o_.qos == 0) {
        ++acked_;
        ++totals_.acked;
      }
    }
  }

  void send(const Packet& p) {
    encode(p, pending_);
    flush();
  }
  void flush() {
    if (writing_ || pending_.empty()) return;
    writing_ = true;
    out_.swap(pending_);
    pending_.clear();
    boost::asio::async_write(
        socket_, boost::asio::buffer(out_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->writing_ = false;
          self->out_.clear();
          if (ec) return self->fail("write: " + ec.message());
          self->flush();
        });
  }
  void read() {
    socket_.async_read_some(
        boost::asio::buffer(buf_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          if (ec) return self->fail(self->done() ? "" : "read: " + ec.message());
          self->in_.insert(self->in_.end(), self->buf_.begin(), self->buf_.begin() + n);
          std::size_t at = 0;
          for (;;) {
            Packet p;
            std::size_t used = 0;
            std::string error;
            const auto r = decode(std::span(self->in_).subspan(at), {}, p, used, error);
            if (r == Decoded::need_more) break;
            if (r == Decoded::malformed) return self->fail("malformed: " + error);
            at += used;
            self->on_packet(p);
          }
          self->in_.erase(self->in_.begin(), self->in_.begin() + static_cast<long>(at));
          self->read();
        });
  }
  void fail(const std::string& why) {
    if (failed_ || why.empty()) return;
    failed_ = true;
    ++totals_.failed;
    std::cerr << id_ << ": " << why << "\n";
    boost::system::error_code ignored;
    socket_.close(ignored);
    check_();
  }

  tcp::socket socket_;
  const Options& o_;
  std::string id_, topic_;
  Totals& totals_;
  std::function<void()> check_;
  std::string payload_;
  std::vector<std::uint8_t> pending_, out_, in_;
  std::array<std::uint8_t, 65536> buf_{};
  bool writing_ = false, failed_ = false;
  long sent_ = 0, acked_ = 0;
  int in_flight_ = 0;
  std::uint16_t next_id_ = 1;
};

int usage() {
  std::cerr << "usage: iotgw-bench pub --port P [--host H] [--clients N] [--count M] [--size B]\n"
               "                       [--qos 0|1] [--window W] [--iothub HOSTNAME] [--prefix d]\n"
               "                       [--password PW] [--c2d K] [--topic T] [--timeout S]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "pub") return usage();
  Options o;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--host")
      o.host = v;
    else if (a == "--port")
      o.port = v;
    else if (a == "--clients")
      o.clients = std::stoi(v);
    else if (a == "--count")
      o.count = std::stol(v);
    else if (a == "--size")
      o.size = std::stoul(v);
    else if (a == "--qos")
      o.qos = std::stoi(v);
    else if (a == "--window")
      o.window = std::stoi(v);
    else if (a == "--iothub")
      o.iothub = v;
    else if (a == "--prefix")
      o.prefix = v;
    else if (a == "--password")
      o.password = v;
    else if (a == "--c2d")
      o.c2d = std::stol(v);
    else if (a == "--topic")
      o.topic = v;
    else if (a == "--timeout")
      o.timeout_s = std::stoi(v);
    else
      return usage();
  }
  if (o.port.empty()) return usage();
  boost::asio::io_context io(1);
  Totals totals;
  std::vector<std::shared_ptr<Client>> clients;
  const auto start = std::chrono::steady_clock::now();
  auto end = start;
  const auto check = [&] {
    const bool all_acked = totals.acked == o.count * o.clients;
    if ((all_acked && totals.received >= o.c2d) || totals.failed > 0) {
      end = std::chrono::steady_clock::now();
      io.stop();
    }
  };
  const auto endpoints = tcp::resolver(io).resolve(o.host, o.port);
  for (int i = 0; i < o.clients; ++i) {
    clients.push_back(std::make_shared<Client>(io, o, i, totals, check));
    clients.back()->start(endpoints);
  }
  boost::asio::steady_timer deadline(io, std::chrono::seconds(o.timeout_s));
  deadline.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;
    std::cerr << "timed out\n";
    end = std::chrono::steady_clock::now();
    io.stop();
  });
  io.run();
  const double s = std::chrono::duration<double>(end - start).count();
  std::printf("clients %d connected %ld sent %ld acked %ld received %ld seconds %.3f msgs/s %.0f\n",
              o.clients, totals.connected, totals.sent, totals.acked, totals.received, s,
              static_cast<double>(totals.acked) / s);
  const bool ok =
      totals.failed == 0 && totals.acked == o.count * o.clients && totals.received >= o.c2d;
  return ok ? 0 : 1;
}
