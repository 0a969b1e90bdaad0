#include "transport/dtls_gate.hpp"

#include <openssl/err.h>

namespace iotgw::transport {

DtlsGate::DtlsGate(std::shared_ptr<const DtlsContext> context, UdpEndpoint& endpoint)
    : context_(std::move(context)) {
  channel_.endpoint = &endpoint;
  facts_.context = context_.get();
  listen_anew();
}

void DtlsGate::listen_anew() {
  listening_ = context_->new_ssl();
  BIO* bio = make_datagram_bio(&channel_);
  SSL_set_bio(listening_.get(), bio, bio);  // one reference, owned by the SSL
  SSL_set_app_data(listening_.get(), &facts_);
}

SslPtr DtlsGate::offer(const PeerAddress& peer, std::span<const std::uint8_t> datagram) {
  channel_.peer = peer;
  channel_.incoming = datagram;
  facts_.peer_key = peer.key();
  const int r = DTLSv1_listen(listening_.get(), client_.get());
  channel_.incoming = {};
  ERR_clear_error();  // a garbage datagram leaves reasons nobody reads
  if (r > 0) {
    auto verified = std::move(listening_);
    SSL_set_app_data(verified.get(), nullptr);
    listen_anew();
    return verified;
  }
  if (r < 0) listen_anew();  // a fatal error leaves the SSL unusable
  return {nullptr, &SSL_free};
}

}  // namespace iotgw::transport
