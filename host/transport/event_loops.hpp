// One io_context and one thread per loop: connections stay on the loop that accepted them, so a
// message never crosses threads on its way through (nginx workers, Seastar shards).
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace iotgw::transport {

class EventLoops {
 public:
  explicit EventLoops(unsigned count);  // 0: one per core
  ~EventLoops();
  EventLoops(const EventLoops&) = delete;
  EventLoops& operator=(const EventLoops&) = delete;

  void start();
  void stop();  // lets the loops return and joins their threads

  std::size_t size() const { return loops_.size(); }
  boost::asio::io_context& at(std::size_t i) { return *loops_.at(i)->context; }

 private:
  struct Loop {
    std::unique_ptr<boost::asio::io_context> context;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Loop>> loops_;
};

}  // namespace iotgw::transport
