// The door of a dtls listener on one loop: a datagram from an address with no session goes
// through one listening SSL (DTLSv1_listen). A ClientHello without a valid cookie is answered with
// a HelloVerifyRequest and forgotten; anything else is dropped. Only a ClientHello that returns
// the cookie, which proves the source address can receive, gets an SSL of its own, so a flood
// from spoofed addresses leaves nothing behind.
#pragma once

#include <memory>
#include <span>

#include "transport/dtls_context.hpp"
#include "transport/udp_endpoint.hpp"

namespace iotgw::transport {

class DtlsGate {
 public:
  DtlsGate(std::shared_ptr<const DtlsContext> context, UdpEndpoint& endpoint);
  DtlsGate(const DtlsGate&) = delete;
  DtlsGate& operator=(const DtlsGate&) = delete;

  // The SSL whose ClientHello proved its address, ready to go on with the handshake (its BIO
  // still the gate's: give it its own), or null. On the endpoint's loop.
  SslPtr offer(const PeerAddress& peer, std::span<const std::uint8_t> datagram);

 private:
  void listen_anew();

  std::shared_ptr<const DtlsContext> context_;
  DatagramChannel channel_;
  DtlsPeerFacts facts_;
  SslPtr listening_{nullptr, &SSL_free};
  std::unique_ptr<BIO_ADDR, decltype(&BIO_ADDR_free)> client_{BIO_ADDR_new(), &BIO_ADDR_free};
};

}  // namespace iotgw::transport
