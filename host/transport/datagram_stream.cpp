#include "transport/datagram_stream.hpp"

#include <algorithm>
#include <cstring>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace iotgw::transport {

DatagramStream::DatagramStream(std::shared_ptr<UdpEndpoint> endpoint, PeerAddress peer)
    : endpoint_(std::move(endpoint)), peer_(peer) {
  endpoint_->add(peer_, this);
}

DatagramStream::~DatagramStream() {
  if (known_) endpoint_->remove(peer_, this);
}

void DatagramStream::async_start(std::function<void(const boost::system::error_code&)> done) {
  boost::asio::post(endpoint_->loop(), [done = std::move(done)] { done({}); });
}

void DatagramStream::on_datagram(std::span<const std::uint8_t> datagram) {
  enqueue(datagram);
}

void DatagramStream::enqueue(std::span<const std::uint8_t> datagram) {
  if (ended_ || queue_.size() >= endpoint_->settings().queue) return;  // busy: lost, as on a net
  queue_.emplace_back(datagram.begin(), datagram.end());
  wake({});
}

void DatagramStream::send_raw(std::span<const std::uint8_t> datagram) {
  if (!ended_) endpoint_->send(peer_, datagram);
}

void DatagramStream::fail(const boost::system::error_code& ec) {
  if (!ended_) ended_ = ec;
  wake(ended_);
}

void DatagramStream::on_idle() {
  known_ = false;
  fail(boost::asio::error::timed_out);
}

void DatagramStream::wake(const boost::system::error_code& ec) {
  if (!waiter_) return;
  boost::asio::post(endpoint_->loop(), [done = std::exchange(waiter_, nullptr), ec] { done(ec); });
}

std::size_t DatagramStream::read_now(boost::asio::mutable_buffer buffer,
                                     boost::system::error_code& ec) {
  if (queue_.empty()) {
    ec = ended_ ? ended_ : boost::system::error_code(boost::asio::error::would_block);
    return 0;
  }
  auto& front = queue_.front();
  // The connection's buffer holds max_datagram, the most the endpoint hands over.
  const std::size_t n = std::min(front.size(), buffer.size());
  std::memcpy(buffer.data(), front.data(), n);
  queue_.erase(queue_.begin());  // a handful at most: moving them is cheaper than a deque
  ec = {};
  return n;
}

void DatagramStream::async_wait_readable(
    std::function<void(const boost::system::error_code&)> done) {
  waiter_ = std::move(done);
  if (!queue_.empty()) {
    wake({});
  } else if (ended_) {
    wake(ended_);
  }
}

void DatagramStream::async_read_some(boost::asio::mutable_buffer buffer, Handler handler) {
  async_wait_readable(
      [this, buffer, handler = std::move(handler)](const boost::system::error_code& ec) {
        if (ec) {
          handler(ec, 0);
          return;
        }
        boost::system::error_code read_ec;
        const std::size_t n = read_now(buffer, read_ec);
        handler(read_ec, n);
      });
}

void DatagramStream::send_datagram(std::span<const std::uint8_t> datagram) {
  send_raw(datagram);
}

void DatagramStream::async_write(boost::asio::const_buffer buffer, Handler handler) {
  send_datagram({static_cast<const std::uint8_t*>(buffer.data()), buffer.size()});
  boost::asio::post(endpoint_->loop(),
                    [handler = std::move(handler), n = buffer.size()] { handler({}, n); });
}

void DatagramStream::close() {
  if (known_) endpoint_->remove(peer_, this);
  known_ = false;
  queue_.clear();
  fail(boost::asio::error::operation_aborted);
}

}  // namespace iotgw::transport
