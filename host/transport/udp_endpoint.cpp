#include "transport/udp_endpoint.hpp"

#include <netinet/in.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <boost/asio/post.hpp>

#include "transport/shared_bind.hpp"

namespace iotgw::transport {

namespace {

constexpr std::size_t kBatch = 32;
// Batches read in one turn before the loop runs other work: a flood on one listener must not
// starve the connections that share its loop.
constexpr int kBatchesPerTurn = 8;
// Datagrams queued for sending before new ones are dropped (a socket buffer's worth).
constexpr std::size_t kMaxOutgoing = 8192;
}  // namespace

PeerAddress::PeerAddress(const sockaddr* address, socklen_t size)
    : size_(std::min<socklen_t>(size, sizeof storage_)) {
  std::memcpy(&storage_, address, size_);
}

PeerAddress::PeerAddress(const boost::asio::ip::udp::endpoint& endpoint)
    : PeerAddress(endpoint.data(), static_cast<socklen_t>(endpoint.size())) {}

std::string PeerAddress::key() const {
  if (storage_.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&storage_);
    std::string k(6, '\0');
    std::memcpy(k.data(), &in->sin_addr, 4);
    std::memcpy(k.data() + 4, &in->sin_port, 2);
    return k;
  }
  if (storage_.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage_);
    std::string k(18, '\0');
    std::memcpy(k.data(), &in6->sin6_addr, 16);
    std::memcpy(k.data() + 16, &in6->sin6_port, 2);
    return k;
  }
  return {reinterpret_cast<const char*>(&storage_), size_};
}

boost::asio::ip::udp::endpoint PeerAddress::endpoint() const {
  boost::asio::ip::udp::endpoint ep;
  std::memcpy(ep.data(), &storage_, std::min<std::size_t>(size_, ep.capacity()));
  ep.resize(size_);
  return ep;
}

std::string PeerAddress::str() const {
  const auto ep = endpoint();
  const auto addr = ep.address();
  if (addr.is_v6()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return addr.to_string() + ":" + std::to_string(ep.port());
}

UdpEndpoint::UdpEndpoint(boost::asio::io_context& loop, const std::string& host, std::uint16_t port,
                         UdpSettings settings)
    : loop_(loop), socket_(loop), settings_(settings), sweep_timer_(loop) {
  bind_shared(socket_, host, port);
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) throw std::runtime_error("cannot bind " + bind_where(host, port) + ": " + ec.message());
  // Bursts from many devices at once: a larger receive buffer drops fewer of them. The kernel
  // caps it at net.core.rmem_max; what it grants is enough.
  socket_.set_option(boost::asio::socket_base::receive_buffer_size(4 * 1024 * 1024), ec);
  socket_.set_option(boost::asio::socket_base::send_buffer_size(4 * 1024 * 1024), ec);
  port_ = socket_.local_endpoint().port();
  local_ = PeerAddress(socket_.local_endpoint()).str();
}

UdpEndpoint::~UdpEndpoint() = default;

void UdpEndpoint::start(OnUnknown on_unknown) {
  boost::asio::post(loop_, [self = shared_from_this(), cb = std::move(on_unknown)]() mutable {
    self->on_unknown_ = std::move(cb);
    self->in_bytes_.resize(kBatch * self->settings_.max_datagram);
    self->wait_readable();
    self->arm_sweep();
  });
}

void UdpEndpoint::stop_new_peers() {
  boost::asio::post(loop_, [self = shared_from_this()] {
    self->accepting_ = false;
    self->on_unknown_ = nullptr;  // it holds the listener
  });
}

void UdpEndpoint::close() {
  boost::asio::post(loop_, [self = shared_from_this()] {
    self->accepting_ = false;
    self->on_unknown_ = nullptr;
    boost::system::error_code ec;
    self->socket_.close(ec);
    self->sweep_timer_.cancel();
  });
}

void UdpEndpoint::add(const PeerAddress& peer, DatagramPeer* session) {
  peers_[peer.key()] = {session, now_};
}

void UdpEndpoint::remove(const PeerAddress& peer, const DatagramPeer* session) {
  auto it = peers_.find(peer.key());
  // A session that expired may close after a new one took its address: leave the new one.
  if (it != peers_.end() && it->second.session == session) peers_.erase(it);
}

void UdpEndpoint::wait_readable() {
  socket_.async_wait(boost::asio::ip::udp::socket::wait_read,
                     [self = shared_from_this()](const boost::system::error_code& ec) {
                       if (ec || !self->socket_.is_open()) return;
                       self->read_batches();
                     });
}

void UdpEndpoint::read_batches() {
  const std::size_t slot = settings_.max_datagram;
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_storage, kBatch> from{};
  for (int turn = 0; turn < kBatchesPerTurn; ++turn) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      iov[i] = {in_bytes_.data() + i * slot, slot};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(socket_.native_handle(), msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      // EAGAIN: drained. Anything else (ICMP errors reported on the socket) is not fatal.
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
          errno != ECONNREFUSED) {
        ++dropped_;
      }
      wait_readable();
      return;
    }
    now_ = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      const auto& h = msgs[static_cast<std::size_t>(i)].msg_hdr;
      if ((h.msg_flags & MSG_TRUNC) != 0) {
        ++dropped_;  // larger than max_datagram: half a message is no message
        continue;
      }
      dispatch(PeerAddress(reinterpret_cast<const sockaddr*>(h.msg_name), h.msg_namelen),
               {in_bytes_.data() + static_cast<std::size_t>(i) * slot,
                msgs[static_cast<std::size_t>(i)].msg_len});
    }
    if (!socket_.is_open()) return;
  }
  boost::asio::post(loop_, [self = shared_from_this()] {
    if (self->socket_.is_open()) self->read_batches();
  });
}

void UdpEndpoint::dispatch(const PeerAddress& from, std::span<const std::uint8_t> datagram) {
  auto it = peers_.find(from.key());
  if (it != peers_.end()) {
    it->second.last_heard = now_;
    it->second.session->on_datagram(datagram);
    return;
  }
  if (accepting_ && on_unknown_) on_unknown_(from, datagram);
}

void UdpEndpoint::send(const PeerAddress& peer, std::span<const std::uint8_t> datagram) {
  if (!socket_.is_open() || out_.size() >= kMaxOutgoing) {
    ++dropped_;
    return;
  }
  out_.push_back({peer, out_bytes_.size(), datagram.size()});
  out_bytes_.insert(out_bytes_.end(), datagram.begin(), datagram.end());
  schedule_flush();
}

void UdpEndpoint::schedule_flush() {
  if (flush_scheduled_ || waiting_writable_) return;
  flush_scheduled_ = true;
  boost::asio::post(loop_, [self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

void UdpEndpoint::flush() {
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iov{};
  std::size_t done = 0;
  while (done < out_.size() && socket_.is_open()) {
    const std::size_t n = std::min(kBatch, out_.size() - done);
    for (std::size_t i = 0; i < n; ++i) {
      auto& o = out_[done + i];
      iov[i] = {out_bytes_.data() + o.offset, o.size};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = const_cast<sockaddr*>(o.to.data());
      msgs[i].msg_hdr.msg_namelen = o.to.size();
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int sent =
        ::sendmmsg(socket_.native_handle(), msgs.data(), static_cast<unsigned>(n), MSG_DONTWAIT);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // The socket buffer is full: wait until it drains rather than spin.
      out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(done));
      waiting_writable_ = true;
      socket_.async_wait(boost::asio::ip::udp::socket::wait_write,
                         [self = shared_from_this()](const boost::system::error_code& ec) {
                           self->waiting_writable_ = false;
                           if (!ec) self->flush();
                         });
      return;
    }
    // Another error (an unreachable peer) loses the first datagram only, as sendto would.
    done += sent <= 0 ? 1 : static_cast<std::size_t>(sent);
    if (sent <= 0) ++dropped_;
  }
  out_.clear();
  out_bytes_.clear();
  if (out_bytes_.capacity() > std::size_t{1} << 20) std::vector<std::uint8_t>().swap(out_bytes_);
}

void UdpEndpoint::arm_sweep() {
  // A quarter of the timeout keeps an idle session at most 25% past it, at a cost of one pass
  // over the table.
  const auto every =
      std::max(std::chrono::milliseconds(250),
               std::min(std::chrono::milliseconds(5000), settings_.idle_timeout / 4));
  sweep_timer_.expires_after(every);
  sweep_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || !self->socket_.is_open()) return;
    self->sweep();
    self->arm_sweep();
  });
}

void UdpEndpoint::sweep() {
  const auto now = std::chrono::steady_clock::now();
  std::vector<DatagramPeer*> idle;
  std::erase_if(peers_, [&](const auto& entry) {
    if (now - entry.second.last_heard < settings_.idle_timeout) return false;
    idle.push_back(entry.second.session);
    return true;
  });
  for (auto* session : idle) session->on_idle();
}

}  // namespace iotgw::transport
