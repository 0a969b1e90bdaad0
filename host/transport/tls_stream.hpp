// TLS under a connection: the handshake in async_start (bounded in time, so a client that never
// finishes it cannot hold a connection slot), then the verified client certificate's subject CN
// and SHA-256 thumbprint for the auth stages.
#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/addressed_stream.hpp"
#include "transport/peer_certificate.hpp"

namespace iotgw::transport {

class TlsStream final : public AddressedStream {
 public:
  TlsStream(boost::asio::ip::tcp::socket socket, std::shared_ptr<boost::asio::ssl::context> ctx,
            std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10));

  void async_start(std::function<void(const boost::system::error_code&)> done) override;
  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler) override;
  void async_write(boost::asio::const_buffer buffer, Handler handler) override;
  void close() override;
  bool tls() const override { return true; }
  std::string_view transport() const override { return "tls"; }
  std::string cert_subject_cn() const override { return peer_.cn; }
  std::string cert_sha256() const override { return peer_.sha256; }

 private:
  std::shared_ptr<boost::asio::ssl::context> ctx_;  // outlives the stream's SSL object
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  boost::asio::steady_timer handshake_timer_;
  std::chrono::milliseconds handshake_timeout_;
  PeerCertificate peer_;
};

}  // namespace iotgw::transport
