// One device connection on one event loop: reads, an ordered write queue, pause and resume,
// timers and an orderly close. What the bytes mean is the handler's business (the adapter's,
// through the runtime Session); everything here runs on the connection's loop.
#pragma once

#include <cstdint>
#include <forward_list>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "iotgw/common/log.hpp"
#include "transport/buffer_budget.hpp"
#include "transport/stream.hpp"
#include "transport/timer_queue.hpp"

namespace iotgw::transport {

class Connection;

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  // false refuses the connection with the reason.
  virtual bool on_open(Connection& conn, std::string& reason) = 0;
  // Sets consumed to the bytes used; false closes the connection with the reason.
  virtual bool on_bytes(std::span<const std::uint8_t> data, std::size_t& consumed,
                        std::string& reason) = 0;
  virtual void on_writable() = 0;
  virtual void on_timer(std::uint32_t id) = 0;
  virtual void on_drain() = 0;
  // The connection is gone; no call into it is allowed afterwards.
  virtual void on_closed() = 0;
};

// Who holds a connection from its start until it finishes (a listener), told once it has.
class ConnectionOwner {
 public:
  virtual ~ConnectionOwner() = default;
  // On the connection's loop; `opened`: its transport handshake completed.
  virtual void finished(Connection& conn, bool opened) = 0;
};

struct ConnectionLimits {
  std::size_t read_chunk = std::size_t{16} * 1024;
  std::size_t max_buffered_input =
      std::size_t{16} * 1024 * 1024;  // unconsumed bytes before we give up
  std::size_t write_high_water =
      std::size_t{256} * 1024;  // on_writable fires after draining past it
  // The process's budget for what connections hold (may be null: no bound, nothing counted).
  std::shared_ptr<BufferBudget> budget;
};

// What every connection of a listener shares: an idle device should not carry its own copy.
struct ConnectionSettings {
  std::string component;  // names the connection in the log
  ConnectionLimits limits;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::io_context& loop, std::unique_ptr<Stream> stream, Logger& log,
             std::shared_ptr<const ConnectionSettings> settings);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the stream (handshake), then on_open, then reading. The owner (may be null) is told
  // once at the end.
  void start(std::shared_ptr<ConnectionHandler> handler, std::shared_ptr<ConnectionOwner> owner);

  void write(std::span<const std::uint8_t> data);
  std::size_t write_queue_size() const { return pending_.size() + writing_.size(); }
  // Flushes queued writes, then closes.
  void close(const std::string& reason);
  // Closes now, dropping queued writes.
  void abort(const std::string& reason);
  // Reading stops while anyone holds it: the adapter (its own limits), the upstream (the bridge
  // cannot take more), the device's rate limit, or the process's buffer budget. Each releases
  // only its own hold.
  enum class Hold : std::uint8_t { adapter = 1, upstream = 2, rate = 4, memory = 8 };
  void pause_reading(Hold who = Hold::adapter);
  void resume_reading(Hold who = Hold::adapter);
  bool reading_paused() const { return holds_ != 0; }
  void set_timer(std::uint32_t id, std::chrono::milliseconds after);
  void cancel_timer(std::uint32_t id);
  // Tells the handler the host wants it gone soon.
  void drain();

  bool closed() const { return state_ == State::closed; }
  boost::asio::io_context& loop() { return loop_; }
  const Stream& stream() const { return *stream_; }
  const std::string& component() const { return settings_->component; }

 private:
  enum class State { starting, open, closing, closed };

  void read_more();
  bool make_room();  // false when the connection was finished for holding too much
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void process_input();
  void flush();
  void finish(const std::string& reason);
  // Tells the budget what this connection holds now.
  void account();

  boost::asio::io_context& loop_;
  std::unique_ptr<Stream> stream_;
  Logger& log_;
  std::shared_ptr<const ConnectionSettings> settings_;
  const ConnectionLimits& limits() const { return settings_->limits; }
  std::shared_ptr<ConnectionHandler> handler_;
  std::shared_ptr<ConnectionOwner> owner_;

  State state_ = State::starting;
  bool reading_ = false;     // a read, a wait for readable, or the next read_more is pending
  std::uint8_t holds_ = 0;   // Hold bits
  bool in_handler_ = false;  // guards against re-entrant process_input
  std::vector<std::uint8_t> input_;  // empty while a readiness wait has nothing left over
  // What the next buffer starts at: small for devices that send little (a connection storm of
  // 16 KiB buffers leaves the heap fragmented), doubled while reads fill it, up to read_chunk.
  std::size_t read_size_ = 0;
  std::size_t input_begin_ = 0;
  std::size_t input_end_ = 0;

  std::vector<std::uint8_t> pending_;  // queued while a write is in flight
  std::vector<std::uint8_t> writing_;  // on the wire
  bool writing_now_ = false;
  bool flush_scheduled_ = false;
  bool above_high_water_ = false;
  std::string close_reason_;
  std::int64_t charged_ = 0;  // what the budget counts for this connection

  // An entry in the loop's TimerQueue for one of the handler's timer ids.
  struct Timer final : TimerQueue::Entry {
    Connection* owner = nullptr;
    std::uint32_t id = 0;
    void expired() override { owner->timer_expired(id); }
  };
  Timer* find_timer(std::uint32_t id);
  void timer_expired(std::uint32_t id);
  void disarm(Timer& timer);
  void disarm_timers();
  // Devices hold one timer at a time (MQTT's connect timer gives way to its keep-alive): that one
  // is inline, and any more are in the list.
  Timer timer_;
  std::forward_list<Timer> more_timers_;
};

}  // namespace iotgw::transport
