// A real RabbitMQ broker with AMQP 1.0 (tests/support/rabbitmq.sh) on 127.0.0.1, for the
// bridge's `amqp` flavour, and a Python peer (python3-qpid-proton) to read and write its queues.
#pragma once

#include <string>

#include "process.hpp"
#include "test_env.hpp"

namespace iotgw::test {

class BrokerUnderTest {
 public:
  BrokerUnderTest();  // throws, with the broker's own words, when it cannot start
  ~BrokerUnderTest();
  BrokerUnderTest(const BrokerUnderTest&) = delete;
  BrokerUnderTest& operator=(const BrokerUnderTest&) = delete;

  const std::string& url() const { return url_; }
  // A clean stop (SIGTERM: everything flushed), or SIGKILL (a crash: nothing flushed); then
  // restart() brings the same broker back on the same port and data.
  void stop();
  void kill();
  void restart();
  // The next `count` messages at `address`, one JSON line each: body, to, properties, device.
  RunResult receive(const std::string& address, int count) const;
  // Every message at `address` until none has come for two seconds: their bodies, one a line.
  RunResult drain(const std::string& address) const;
  // A durable queue at /queue/NAME, as an operator would declare it before any traffic.
  RunResult declare_durable(const std::string& address) const;
  RunResult send(const std::string& address, const std::string& body) const;

 private:
  TempDir dir_;
  std::string url_;
  int port_ = 0;
};

}  // namespace iotgw::test
