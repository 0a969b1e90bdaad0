#include "proton_pair.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <proton/connection_options.hpp>

namespace iotgw::test {

namespace {

// Copies what `from` has to write into what `to` can read: true if anything moved.
bool carry(proton::io::connection_driver& from, proton::io::connection_driver& to) {
  const auto out = from.write_buffer();
  if (out.size == 0) return false;
  const auto in = to.read_buffer();
  const std::size_t n = std::min(out.size, in.size);
  if (n == 0) return false;
  std::memcpy(in.data, out.data, n);
  to.read_done(n);
  from.write_done(n);
  return true;
}

}  // namespace

ProtonPair::ProtonPair(proton::messaging_handler& client, proton::messaging_handler& server)
    : client_("client"), server_("server") {
  client_.connect(proton::connection_options().handler(client).sasl_enabled(false));
  server_.accept(proton::connection_options().handler(server).sasl_enabled(false));
  run();
}

void ProtonPair::run() {
  for (int round = 0; round < 10'000; ++round) {
    client_.dispatch();
    server_.dispatch();
    const bool up = carry(client_, server_);
    const bool down = carry(server_, client_);
    if (!up && !down) {
      client_.dispatch();
      server_.dispatch();
      if (client_.write_buffer().size == 0 && server_.write_buffer().size == 0) return;
    }
  }
  throw std::runtime_error("ProtonPair: the two ends never went quiet");
}

}  // namespace iotgw::test
