#include "method_caller.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "client.hpp"

namespace iotgw::bench {

MethodCallResult call_methods(const MethodCallPlan& plan) {
  MethodCallResult result;
  std::mutex mutex;  // guards result while the callers merge into it
  std::atomic<long> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> callers;
  callers.reserve(static_cast<std::size_t>(plan.callers));
  for (int k = 0; k < plan.callers; ++k) {
    callers.emplace_back([&] {
      https::Client hub(plan.hub);
      Histogram latency;
      long answered = 0, failed = 0;
      std::string error;
      for (long i = next++; i < plan.count; i = next++) {
        const auto& device = plan.devices[static_cast<std::size_t>(i) % plan.devices.size()];
        const auto start = now_ns();
        const auto a =
            hub.call("POST", "/twins/" + device + "/methods", plan.token,
                     R"({"methodName":"bench","payload":{},"responseTimeoutInSeconds":30})");
        // The device's own status (200) inside the hub's 200.
        if (a.status == 200 && a.body.find(R"("status":200)") != std::string::npos) {
          ++answered;
          latency.record(static_cast<std::uint64_t>((now_ns() - start) / 1000));
        } else {
          ++failed;
          if (error.empty()) {
            error = a.error.empty() ? std::to_string(a.status) + " " + a.body : a.error;
          }
        }
      }
      std::lock_guard lock(mutex);
      result.answered += answered;
      result.failed += failed;
      result.latency.merge(latency);
      if (result.error.empty()) result.error = error;
    });
  }
  for (auto& t : callers) t.join();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace iotgw::bench
