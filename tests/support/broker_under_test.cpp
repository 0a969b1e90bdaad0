#include "broker_under_test.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <stdexcept>

namespace iotgw::test {

namespace {

const std::string kScript = std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/support/rabbitmq.sh";
const std::string kPeer = std::string(IOTGW_TEST_SOURCE_DIR) + "/tests/integration/amqp_peer.py";

}  // namespace

BrokerUnderTest::BrokerUnderTest() {
  // The broker takes six ports in a row (AMQP, epmd, distribution, CLI tools).
  std::mt19937 pick(std::random_device{}());
  std::uniform_int_distribution<int> base(2000, 3200);  // below the ephemeral range
  std::string last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    const int port = base(pick) * 10;
    bool free = true;
    for (int p = port; p < port + 6; ++p) free = free && port_free(p, SOCK_STREAM);
    if (!free) continue;
    auto r = run("/bin/bash", {kScript, "start", dir_.path().string(), std::to_string(port)},
                 std::chrono::seconds(90));
    if (r.code == 0) {
      url_ = "amqp://127.0.0.1:" + std::to_string(port);
      port_ = port;
      return;
    }
    last = r.output;
  }
  throw std::runtime_error("RabbitMQ did not start:\n" + last);
}

BrokerUnderTest::~BrokerUnderTest() {
  stop();
}

void BrokerUnderTest::stop() {
  run("/bin/bash", {kScript, "stop", dir_.path().string()}, std::chrono::seconds(30));
}

void BrokerUnderTest::kill() {
  const auto r =
      run("/bin/bash", {kScript, "kill", dir_.path().string()}, std::chrono::seconds(30));
  if (r.code != 0) throw std::runtime_error("RabbitMQ could not be killed:\n" + r.output);
}

void BrokerUnderTest::restart() {
  const auto r = run("/bin/bash", {kScript, "start", dir_.path().string(), std::to_string(port_)},
                     std::chrono::seconds(90));
  if (r.code != 0) throw std::runtime_error("RabbitMQ did not start again:\n" + r.output);
}

RunResult BrokerUnderTest::drain(const std::string& address) const {
  return run("/usr/bin/python3", {kPeer, "drain", url_, address}, std::chrono::seconds(120));
}

RunResult BrokerUnderTest::declare_durable(const std::string& address) const {
  return run("/usr/bin/python3", {kPeer, "declare", url_, address}, std::chrono::seconds(30));
}

RunResult BrokerUnderTest::receive(const std::string& address, int count) const {
  return run("/usr/bin/python3", {kPeer, "receive", url_, address, std::to_string(count)},
             std::chrono::seconds(30));
}

RunResult BrokerUnderTest::send(const std::string& address, const std::string& body) const {
  return run("/usr/bin/python3", {kPeer, "send", url_, address, body}, std::chrono::seconds(30));
}

}  // namespace iotgw::test
