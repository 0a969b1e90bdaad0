// A Stream over memory: reads come from chunks given up front, writes are kept. It lets the
// real Connection, Session, adapter plugin and bridge run with no socket (fuzzing, engine tests).
#pragma once

#include <deque>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "transport/stream.hpp"

namespace iotgw::fuzz {

class MemoryStream final : public transport::Stream {
 public:
  MemoryStream(boost::asio::io_context& loop, std::deque<std::string> chunks)
      : loop_(loop), chunks_(std::move(chunks)) {}

  void async_start(std::function<void(const boost::system::error_code&)> done) override {
    boost::asio::post(loop_, [done = std::move(done)] { done({}); });
  }
  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) override {
    if (chunks_.empty() || closed_) {
      boost::asio::post(loop_, [h = std::move(handler)] { h(boost::asio::error::eof, 0); });
      return;
    }
    auto& chunk = chunks_.front();
    const std::size_t n = std::min(buffer.size(), chunk.size());
    std::memcpy(buffer.data(), chunk.data(), n);
    chunk.erase(0, n);
    if (chunk.empty()) chunks_.pop_front();
    boost::asio::post(loop_, [h = std::move(handler), n] { h({}, n); });
  }
  void async_write(boost::asio::const_buffer buffer, Handler handler) override {
    written_.append(static_cast<const char*>(buffer.data()), buffer.size());
    boost::asio::post(loop_, [h = std::move(handler), n = buffer.size()] { h({}, n); });
  }
  void close() override { closed_ = true; }
  std::string remote_address() const override { return "127.0.0.1:1"; }
  std::string local_address() const override { return "127.0.0.1:2"; }
  std::string_view transport() const override { return "tcp"; }

 private:
  boost::asio::io_context& loop_;
  std::deque<std::string> chunks_;
  std::string written_;
  bool closed_ = false;
};

}  // namespace iotgw::fuzz
