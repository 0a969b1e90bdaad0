#include "bridge/amqp_transport.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <proton/error_condition.hpp>
#include <proton/timestamp.hpp>
#include <proton/transport.hpp>

#include "iotgw/common/clock.hpp"

namespace iotgw::bridge {

namespace {
constexpr std::chrono::milliseconds kMaxBackoff{30'000};
}  // namespace

AmqpTransport::AmqpTransport(boost::asio::io_context& loop, std::string host, std::string port,
                             Logger& log, Hooks hooks)
    : loop_(loop),
      host_(std::move(host)),
      port_(std::move(port)),
      endpoint_(host_ + ":" + port_),
      log_(log),
      hooks_(std::move(hooks)),
      socket_(loop),
      timer_(loop) {}

void AmqpTransport::start(std::weak_ptr<void> owner) {
  owner_ = std::move(owner);
  connect();
}

void AmqpTransport::stop() {
  stopped_ = true;
  if (driver_ && open_) {
    driver_->connection().close();  // the close frame goes out, then the socket closes
    pump();
    return;
  }
  timer_.cancel();
  drop_driver();
  close_socket();
}

void AmqpTransport::close_socket() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void AmqpTransport::opened() {
  backoff_ = std::chrono::milliseconds(100);
}

void AmqpTransport::connect() {
  auto keep = owner_.lock();
  if (!keep) return;
  auto resolver = std::make_shared<boost::asio::ip::tcp::resolver>(loop_);
  resolver->async_resolve(
      host_, port_,
      [this, keep, resolver](const boost::system::error_code& ec,
                             const boost::asio::ip::tcp::resolver::results_type& results) {
        if (ec) {
          lost("cannot resolve " + host_ + ": " + ec.message());
          return;
        }
        boost::asio::async_connect(
            socket_, results, [this, keep](const boost::system::error_code& cec, const auto&) {
              if (stopped_) return;
              if (cec) {
                lost("cannot connect: " + cec.message());
                return;
              }
              boost::system::error_code ignored;
              socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
              close_reason_.clear();
              const auto locked = lock_tls();
              driver_ = std::make_unique<proton::io::connection_driver>("iotgw");
              driver_->connect(hooks_.options());
              open_ = true;
              pump();
            });
      });
}

std::unique_lock<std::mutex> AmqpTransport::lock_tls() const {
  return hooks_.tls_lock ? std::unique_lock(*hooks_.tls_lock) : std::unique_lock<std::mutex>();
}

void AmqpTransport::drop_driver() {
  const auto locked = lock_tls();
  driver_.reset();
}

void AmqpTransport::schedule_pump() {
  if (pump_scheduled_) return;
  auto keep = owner_.lock();
  if (!keep) return;
  pump_scheduled_ = true;
  boost::asio::post(loop_, [this, keep] {
    pump_scheduled_ = false;
    pump();
  });
}

void AmqpTransport::pump() {
  if (!driver_) return;
  auto keep = owner_.lock();
  if (!keep) return;
  const bool alive = driver_->dispatch();
  if (!driver_) return;  // a handler lost the connection
  // Output: copied out at once, so Proton's buffer may change while the write is in flight.
  if (!writing_) {
    const auto wb = driver_->write_buffer();
    if (wb.size > 0) {
      out_.assign(wb.data, wb.data + wb.size);  // one write in flight: the buffer is reused
      driver_->write_done(wb.size);
      writing_ = true;
      boost::asio::async_write(socket_, boost::asio::buffer(out_),
                               [this, keep](const boost::system::error_code& ec, std::size_t) {
                                 writing_ = false;
                                 if (ec) {
                                   lost("write failed: " + ec.message());
                                   return;
                                 }
                                 pump();
                               });
    }
  }
  if (!alive && !writing_) {
    // Both directions closed and everything written: a polite stop, or the hub said goodbye.
    if (stopped_) {
      timer_.cancel();
      drop_driver();
      close_socket();
      return;
    }
    lost("the hub closed the connection");
    return;
  }
  if (!reading_ && driver_) read();
  arm_tick();
  if (hooks_.pumped) hooks_.pumped();
}

void AmqpTransport::read() {
  auto keep = owner_.lock();
  reading_ = true;
  if (in_.empty()) in_.resize(kReadChunk);  // one read in flight: the buffer is reused
  socket_.async_read_some(boost::asio::buffer(in_),
                          [this, keep](const boost::system::error_code& ec, std::size_t n) {
                            reading_ = false;
                            if (!driver_) return;
                            if (ec) {
                              lost(ec == boost::asio::error::eof ? "the hub closed the connection"
                                                                 : "read failed: " + ec.message());
                              return;
                            }
                            std::size_t at = 0;
                            while (at < n && driver_) {
                              const auto rb = driver_->read_buffer();
                              if (rb.size == 0) break;
                              const std::size_t take = std::min(rb.size, n - at);
                              std::memcpy(rb.data, in_.data() + at, take);
                              driver_->read_done(take);
                              at += take;
                            }
                            pump();
                          });
}

void AmqpTransport::arm_tick() {
  if (!driver_) return;
  const auto now_ms = unix_millis();
  const auto next = driver_->tick(proton::timestamp(now_ms)).milliseconds();
  if (next <= 0) return;
  // pump() runs for every message; re-arming each time cost a cancelled wait per message. Only
  // an earlier deadline needs the timer moved: at a later one, the tick then arms it again.
  if (tick_armed_ms_ != 0 && tick_armed_ms_ <= next) return;
  tick_armed_ms_ = next;
  timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(1, next - now_ms)));
  timer_.async_wait([this, keep = owner_.lock(), next](const boost::system::error_code& ec) {
    // Fired, or cancelled by the reconnect backoff; a re-arm has set its own deadline.
    if (tick_armed_ms_ == next) tick_armed_ms_ = 0;
    if (!ec) pump();
  });
}

void AmqpTransport::lost(const std::string& reason) {
  // The hub's own word (a refused login, say) is better than what the socket saw; Proton
  // reports it only once both directions are closed, which may be after the socket's EOF.
  std::string why = reason;
  if (!close_reason_.empty()) {
    why = close_reason_;
  } else if (driver_ && !driver_->transport().error().empty()) {
    why = driver_->transport().error().what();
  }
  if (stopped_) {
    drop_driver();
    close_socket();
    return;
  }
  if (open_) log_.warn("bridge", "hub connection lost: " + why);
  open_ = false;
  if (driver_) {
    driver_->disconnected(proton::error_condition("iotgw:connection-lost", why));
    driver_->dispatch();
  }
  drop_driver();
  close_socket();
  socket_ = boost::asio::ip::tcp::socket(loop_);
  hooks_.lost(why);
  // Back off, with jitter so a fleet of gateways does not come back in step.
  std::uniform_int_distribution<long> jitter(0, backoff_.count() / 2);
  std::random_device rd;
  const auto wait = backoff_ + std::chrono::milliseconds(jitter(rd));
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  timer_.expires_after(wait);
  timer_.async_wait([this, keep = owner_.lock()](const boost::system::error_code& ec) {
    if (!ec) connect();
  });
}

}  // namespace iotgw::bridge
