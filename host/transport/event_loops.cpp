#include "transport/event_loops.hpp"

namespace iotgw::transport {

EventLoops::EventLoops(unsigned count) {
  if (count == 0) count = std::max(1U, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < count; ++i) {
    // concurrency hint 1: each context runs on exactly one thread, so Asio can skip locking.
    auto ctx = std::make_unique<boost::asio::io_context>(1);
    auto work = boost::asio::make_work_guard(*ctx);
    loops_.push_back(std::make_unique<Loop>(Loop{std::move(ctx), std::move(work), {}}));
  }
}

EventLoops::~EventLoops() {
  stop();
}

void EventLoops::start() {
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) continue;
    loop->thread = std::thread([ctx = loop->context.get()] { ctx->run(); });
  }
}

void EventLoops::stop() {
  for (auto& loop : loops_) {
    loop->work.reset();
    loop->context->stop();
  }
  for (auto& loop : loops_) {
    if (loop->thread.joinable()) loop->thread.join();
  }
}

}  // namespace iotgw::transport
