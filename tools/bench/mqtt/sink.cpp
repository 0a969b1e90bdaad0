#include "sink.hpp"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <iostream>
#include <memory>
#include <vector>

#include "codec/codec.hpp"
#include "packet_reader.hpp"

namespace iotgw::bench {
namespace {

using namespace iotgw::mqtt;
using boost::asio::ip::tcp;

class SinkSession : public std::enable_shared_from_this<SinkSession> {
 public:
  explicit SinkSession(tcp::socket socket) : socket_(std::move(socket)) {}
  void start() { read(); }

 private:
  void read() {
    socket_.async_read_some(
        boost::asio::buffer(buf_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          if (ec) return;
          self->in_.insert(self->in_.end(), self->buf_.begin(),
                           self->buf_.begin() + static_cast<long>(n));
          if (!self->answer()) return;
          self->flush();
          self->read();
        });
  }
  // False when the client sent something that is not MQTT: the connection just ends.
  bool answer() {
    std::string error;
    bool connected = false;
    do {
      connected = false;
      const bool mqtt = read_packets(
          in_, level_,
          [&](const Packet& p) {
            if (const auto* c = std::get_if<Connect>(&p)) {
              level_ = static_cast<ProtocolLevel>(c->level);
              Connack ack{false, ConnectCode::accepted, 0, {}};
              if (level_ == ProtocolLevel::v5) ack.props.receive_maximum = 65535;
              encode(ack, pending_, level_);
              connected = true;
              return false;  // what follows is read again, at the CONNECT's level
            }
            if (const auto* pub = std::get_if<Publish>(&p); pub != nullptr && pub->qos == 1) {
              encode(Ack{PacketType::puback, pub->packet_id}, pending_, level_);
            } else if (const auto* s = std::get_if<Subscribe>(&p)) {
              encode(Suback{s->packet_id,
                            std::vector<std::uint8_t>(s->subscriptions.size(), kSubackFailure)},
                     pending_, level_);
            } else if (const auto* b = std::get_if<Bare>(&p);
                       b != nullptr && b->type == PacketType::pingreq) {
              encode(Bare{PacketType::pingresp}, pending_, level_);
            }
            return true;
          },
          error);
      if (!mqtt) return false;
    } while (connected);
    return true;
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
          if (!ec) self->flush();
        });
  }

  tcp::socket socket_;
  std::array<std::uint8_t, 16384> buf_{};
  std::vector<std::uint8_t> in_, pending_, out_;
  bool writing_ = false;
  ProtocolLevel level_ = ProtocolLevel::v311;
};

void accept(tcp::acceptor& acceptor) {
  acceptor.async_accept([&acceptor](const boost::system::error_code& ec, tcp::socket socket) {
    if (!ec) {
      socket.set_option(tcp::no_delay(true));
      std::make_shared<SinkSession>(std::move(socket))->start();
    }
    accept(acceptor);
  });
}

}  // namespace

void run_sink(boost::asio::io_context& io, const std::string& host, const std::string& port) {
  tcp::acceptor acceptor(
      io, tcp::endpoint(boost::asio::ip::make_address(host),
                        static_cast<unsigned short>(std::stoi(port.empty() ? "0" : port))));
  const auto bound = acceptor.local_endpoint();
  std::cout << "listening on " << bound.address().to_string() << ":" << bound.port() << std::endl;
  accept(acceptor);
  io.run();
}

}  // namespace iotgw::bench
