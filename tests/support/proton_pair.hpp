// Two Proton connection_drivers joined in memory: a client running the handler under test and a
// server running a scripted peer (a hub, a broker). No socket and no thread: run() copies each
// driver's output into the other's input and dispatches both until neither has anything to say,
// so a test sees every frame's effect as soon as run() returns.
#pragma once

#include <proton/connection.hpp>
#include <proton/io/connection_driver.hpp>
#include <proton/messaging_handler.hpp>

namespace iotgw::test {

class ProtonPair {
 public:
  // Opens the connection (no SASL) and runs until both ends are open.
  ProtonPair(proton::messaging_handler& client, proton::messaging_handler& server);
  ProtonPair(const ProtonPair&) = delete;
  ProtonPair& operator=(const ProtonPair&) = delete;

  void run();
  proton::connection client() { return client_.connection(); }
  proton::connection server() { return server_.connection(); }

 private:
  proton::io::connection_driver client_, server_;
};

}  // namespace iotgw::test
