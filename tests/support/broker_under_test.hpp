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
  // The next `count` messages at `address`, one JSON line each: body, to, properties, device.
  RunResult receive(const std::string& address, int count) const;
  RunResult send(const std::string& address, const std::string& body) const;

 private:
  TempDir dir_;
  std::string url_;
};

}  // namespace iotgw::test
