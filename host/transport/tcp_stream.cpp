#include "transport/tcp_stream.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace iotgw::transport {

TcpStream::TcpStream(boost::asio::ip::tcp::socket socket)
    : AddressedStream(socket), socket_(std::move(socket)) {
  boost::system::error_code ec;
  // Small device packets: latency matters more than coalescing.
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // read_now must not block the loop
}

void TcpStream::async_start(std::function<void(const boost::system::error_code&)> done) {
  boost::asio::post(socket_.get_executor(), [done = std::move(done)] { done({}); });
}

void TcpStream::async_read_some(boost::asio::mutable_buffer buffer, Handler handler) {
  socket_.async_read_some(buffer, std::move(handler));
}

void TcpStream::async_wait_readable(std::function<void(const boost::system::error_code&)> done) {
  socket_.async_wait(boost::asio::ip::tcp::socket::wait_read, std::move(done));
}

std::size_t TcpStream::read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) {
  return socket_.read_some(buffer, ec);
}

void TcpStream::async_write(boost::asio::const_buffer buffer, Handler handler) {
  boost::asio::async_write(socket_, buffer, std::move(handler));
}

void TcpStream::close() {
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace iotgw::transport
