// One DTLS peer's session: the handshake (continued from the ClientHello the gate verified), then
// each record decrypted into one datagram for the connection, and each write encrypted into one
// record. The identity the handshake proved (client certificate or PSK identity) goes to the
// auth stages as the tls transport's does.
#pragma once

#include <array>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "transport/datagram_stream.hpp"
#include "transport/dtls_context.hpp"
#include "transport/peer_certificate.hpp"

namespace iotgw::transport {

class DtlsStream final : public DatagramStream {
 public:
  // A new ClientHello from this peer's address after the handshake (a rebooted device, a reused
  // NAT mapping): true when it proved the address (a valid cookie) and a new session took the
  // address over. Until then the old association stays (RFC 6347 4.2.8): a spoofed hello must
  // not end it.
  using Rehello = std::function<bool(const PeerAddress&, std::span<const std::uint8_t>)>;

  // `ssl` comes from the gate, with its ClientHello buffered.
  DtlsStream(std::shared_ptr<UdpEndpoint> endpoint, PeerAddress peer,
             std::shared_ptr<const DtlsContext> context, SslPtr ssl, PskLookup psk,
             Rehello rehello);
  ~DtlsStream() override;
  DtlsStream(const DtlsStream&) = delete;
  DtlsStream& operator=(const DtlsStream&) = delete;

  void async_start(std::function<void(const boost::system::error_code&)> done) override;
  void send_datagram(std::span<const std::uint8_t> datagram) override;
  void close() override;
  std::string_view transport() const override { return "dtls"; }
  bool tls() const override { return true; }
  std::string cert_subject_cn() const override { return certificate_.cn; }
  std::string cert_sha256() const override { return certificate_.sha256; }
  std::string psk_identity() const override { return psk_identity_; }

  void on_datagram(std::span<const std::uint8_t> datagram) override;

 private:
  void drive();
  void handshake_done(const boost::system::error_code& ec);
  void arm_retransmit();
  void read_records();

  DatagramChannel channel_;
  std::shared_ptr<const DtlsContext> context_;  // its cookie is checked again in the handshake
  PskLookup psk_;
  Rehello rehello_;
  DtlsPeerFacts facts_;
  SslPtr ssl_;
  std::function<void(const boost::system::error_code&)> started_;
  // Gone at close, on the loop: a connection still queued when the loops stop is destroyed with
  // them, and a timer must not outlive its io_context.
  std::unique_ptr<boost::asio::steady_timer> retransmit_;
  std::unique_ptr<boost::asio::steady_timer> deadline_;
  bool established_ = false;
  bool closed_ = false;
  PeerCertificate certificate_;
  std::string psk_identity_;
};

}  // namespace iotgw::transport
