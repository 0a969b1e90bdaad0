#include "transport/connection.hpp"

#include <algorithm>
#include <cstring>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace iotgw::transport {

namespace {
// Why reading ended, as the log says it: the peer's close and an expired datagram session are
// not failures.
std::string read_end(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::eof) return "closed by peer";
  if (ec == boost::asio::error::timed_out) return "idle timeout";
  return "read failed: " + ec.message();
}
}  // namespace

Connection::Connection(boost::asio::io_context& loop, std::unique_ptr<Stream> stream, Logger& log,
                       std::shared_ptr<const ConnectionSettings> settings)
    : loop_(loop),
      stream_(std::move(stream)),
      log_(log),
      settings_(std::move(settings)),
      read_size_(stream_->waits_for_readable() ? std::min<std::size_t>(1024, limits().read_chunk)
                                               : limits().read_chunk) {}

Connection::~Connection() = default;

void Connection::start(std::shared_ptr<ConnectionHandler> handler,
                       std::shared_ptr<ConnectionOwner> owner) {
  handler_ = std::move(handler);
  owner_ = std::move(owner);
  stream_->async_start([self = shared_from_this()](const boost::system::error_code& ec) {
    if (self->state_ != State::starting) return;
    if (ec) {
      self->finish("transport start failed: " + ec.message());
      return;
    }
    self->state_ = State::open;
    std::string reason;
    if (!self->handler_->on_open(*self, reason)) {
      self->finish("refused: " + reason);
      return;
    }
    if (self->log_.enabled(LogLevel::debug)) {
      self->log_.debug(self->component(), "connection from " + self->stream_->remote_address());
    }
    self->read_more();
  });
}

void Connection::read_more() {
  if (reading_ || holds_ != 0 || state_ != State::open) return;
  // Past the process's budget, a connection holding part of a message reads no more until the
  // total falls. One holding nothing reads on: what it reads whole is used at once, and the
  // devices that send whole messages are served while half-sent ones wait.
  const auto& budget = limits().budget;
  if (budget && input_begin_ != input_end_ && budget->over() && budget->wait(shared_from_this())) {
    holds_ |= static_cast<std::uint8_t>(Hold::memory);
    return;
  }
  // A datagram must fit whole, and a buffer of its own size is all it needs: a burst of new
  // peers each holding a buffer for the largest datagram would leave the heap that much larger.
  if (stream_->datagrams()) read_size_ = std::max<std::size_t>(stream_->next_datagram_size(), 1);
  if (!make_room()) return;
  const auto room = boost::asio::buffer(input_.data() + input_end_, input_.size() - input_end_);
  reading_ = true;
  if (!stream_->waits_for_readable()) {
    stream_->async_read_some(
        room, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->on_read(ec, n);
        });
    return;
  }
  boost::system::error_code ec;
  const std::size_t n = stream_->read_now(room, ec);
  if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
    // A byte stream's buffer follows its traffic; a datagram's is sized above, per datagram.
    if (!stream_->datagrams()) {
      if (n == room.size() && read_size_ < limits().read_chunk) {
        read_size_ *= 2;  // a busy device: bigger reads, fewer calls
      } else if (n < read_size_ / 4 && read_size_ > 1024) {
        read_size_ /= 2;
      }
    }
    on_read(ec, n);
    return;
  }
  if (input_begin_ == input_end_) {
    std::vector<std::uint8_t>().swap(input_);  // an idle connection keeps no buffer
    input_begin_ = input_end_ = 0;
  }
  stream_->async_wait_readable([self = shared_from_this()](const boost::system::error_code& e) {
    self->reading_ = false;
    if (self->state_ != State::open) return;
    if (e) {
      self->finish(read_end(e));
      return;
    }
    self->read_more();
  });
}

bool Connection::make_room() {
  if (input_begin_ == input_end_) input_begin_ = input_end_ = 0;
  if (input_.size() < read_size_) input_.resize(read_size_);  // first use, or a busier device
  if (input_end_ < input_.size()) return true;
  if (input_begin_ > 0) {
    std::memmove(input_.data(), input_.data() + input_begin_, input_end_ - input_begin_);
    input_end_ -= input_begin_;
    input_begin_ = 0;
  } else if (input_.size() >= limits().max_buffered_input) {
    finish("more than " + std::to_string(limits().max_buffered_input) +
           " bytes received without a complete message");
    return false;
  } else {
    input_.resize(std::min(input_.size() * 2, limits().max_buffered_input));
  }
  return true;
}

void Connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  reading_ = false;
  if (state_ != State::open) return;  // closing: what arrives now is not handed on
  if (ec) {
    finish(read_end(ec));
    return;
  }
  input_end_ += n;
  process_input();
  if (!stream_->waits_for_readable()) {
    read_more();
    return;
  }
  // The next read goes through the loop, so one busy device cannot starve the others.
  reading_ = true;
  boost::asio::post(loop_, [self = shared_from_this()] {
    self->reading_ = false;
    self->read_more();
  });
}

void Connection::process_input() {
  if (in_handler_) return;
  in_handler_ = true;
  while (state_ == State::open && holds_ == 0 && input_begin_ < input_end_) {
    const std::size_t available = input_end_ - input_begin_;
    std::size_t consumed = 0;
    std::string reason;
    if (!handler_->on_bytes({input_.data() + input_begin_, available}, consumed, reason)) {
      in_handler_ = false;
      finish(reason.empty() ? "protocol error" : reason);
      return;
    }
    // A datagram is whole or nothing: what the handler left of it is not the start of the next.
    input_begin_ = stream_->datagrams() ? input_end_ : input_begin_ + std::min(consumed, available);
    if (consumed == 0 && !stream_->datagrams()) break;  // waits for more bytes
  }
  in_handler_ = false;
  // A buffer grown for one large message goes once it is used (never while a read fills it).
  if (!reading_ && input_begin_ == input_end_ && input_.size() > limits().read_chunk) {
    std::vector<std::uint8_t>().swap(input_);
    input_begin_ = input_end_ = 0;
  }
  account();
}

void Connection::account() {
  if (!limits().budget) return;
  const std::size_t held =
      state_ == State::closed ? 0 : input_end_ - input_begin_ + pending_.size() + writing_.size();
  const auto now = static_cast<std::int64_t>(held);
  limits().budget->add(now - std::exchange(charged_, now));
}

void Connection::write(std::span<const std::uint8_t> data) {
  if (state_ != State::open || data.empty()) return;
  if (stream_->datagrams()) {
    stream_->send_datagram(data);
    return;
  }
  pending_.insert(pending_.end(), data.begin(), data.end());
  account();
  if (write_queue_size() > limits().write_high_water) above_high_water_ = true;
  // Later in this turn of the loop, not now: the PUBACKs for a batch of messages the hub
  // accepted go out in one send() instead of one each.
  if (writing_now_ || flush_scheduled_) return;
  flush_scheduled_ = true;
  boost::asio::post(loop_, [self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

void Connection::flush() {
  if (writing_now_ || pending_.empty() || state_ == State::closed) return;
  writing_.swap(pending_);
  pending_.clear();
  writing_now_ = true;
  stream_->async_write(
      boost::asio::buffer(writing_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        self->writing_now_ = false;
        self->writing_.clear();
        self->account();
        if (self->state_ == State::closed) return;
        if (ec) {
          self->finish("write failed: " + ec.message());
          return;
        }
        if (!self->pending_.empty()) {
          self->flush();
          return;
        }
        if (self->state_ == State::closing) {
          self->finish(self->close_reason_);
          return;
        }
        if (self->above_high_water_) {
          self->above_high_water_ = false;
          self->handler_->on_writable();
        }
      });
}

void Connection::close(const std::string& reason) {
  if (state_ == State::closing || state_ == State::closed) return;
  if (state_ == State::starting || (!writing_now_ && pending_.empty())) {
    finish(reason);
    return;
  }
  close_reason_ = reason;
  state_ = State::closing;
}

void Connection::abort(const std::string& reason) {
  finish(reason);
}

void Connection::finish(const std::string& reason) {
  if (state_ == State::closed) return;
  const bool was_open = state_ != State::starting;
  state_ = State::closed;
  account();
  disarm_timers();
  stream_->close();
  if (log_.enabled(LogLevel::debug)) {
    log_.debug(component(), "connection " + stream_->remote_address() + " closed: " + reason);
  }
  // Deferred: finish may be reached from inside a handler call, which must return first.
  boost::asio::post(loop_, [self = shared_from_this(), was_open] {
    if (was_open) self->handler_->on_closed();
    self->handler_.reset();
    self->more_timers_.clear();
    if (auto owner = std::move(self->owner_)) owner->finished(*self, was_open);
  });
}

void Connection::pause_reading(Hold who) {
  holds_ |= static_cast<std::uint8_t>(who);
}

void Connection::resume_reading(Hold who) {
  const auto before = holds_;
  holds_ &= static_cast<std::uint8_t>(~static_cast<std::uint8_t>(who));
  if (before == 0 || holds_ != 0) return;
  boost::asio::post(loop_, [self = shared_from_this()] {
    self->process_input();
    self->read_more();
  });
}

Connection::Timer* Connection::find_timer(std::uint32_t id) {
  if (timer_.owner != nullptr && timer_.id == id) return &timer_;
  for (auto& t : more_timers_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

void Connection::set_timer(std::uint32_t id, std::chrono::milliseconds after) {
  if (state_ == State::closed) return;
  auto* timer = find_timer(id);
  if (timer == nullptr) {
    // A disarmed entry is free: its id has nothing pending.
    if (timer_.owner == nullptr || !timer_.armed()) {
      timer = &timer_;
    } else {
      for (auto& t : more_timers_) {
        if (!t.armed()) timer = &t;
      }
      if (timer == nullptr) timer = &more_timers_.emplace_front();
    }
    timer->owner = this;
    timer->id = id;
  }
  boost::asio::use_service<TimerQueue>(loop_).arm(*timer, after);
}

void Connection::cancel_timer(std::uint32_t id) {
  if (auto* timer = find_timer(id)) disarm(*timer);
}

void Connection::disarm(Timer& timer) {
  // Through the loop's queue, which lets its wait go with the last entry; an idle entry needs
  // no lookup of the queue.
  if (timer.armed()) boost::asio::use_service<TimerQueue>(loop_).disarm(timer);
}

void Connection::disarm_timers() {
  disarm(timer_);
  for (auto& t : more_timers_) disarm(t);
}

void Connection::timer_expired(std::uint32_t id) {
  if (state_ != State::open) return;
  // The handler may close the connection and let go of the last reference to it.
  const auto self = shared_from_this();
  handler_->on_timer(id);
}

void Connection::drain() {
  // A handshake still under way (TLS, DTLS, a WebSocket upgrade) has nothing to finish: a
  // draining listener takes no new devices, and waiting for it would only hold the drain.
  if (state_ == State::starting) {
    finish("draining before the handshake finished");
    return;
  }
  if (state_ == State::open) handler_->on_drain();
}

}  // namespace iotgw::transport
