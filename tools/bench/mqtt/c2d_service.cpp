#include "c2d_service.hpp"

#include <cstring>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/duration.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/sender.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/work_queue.hpp>

#include "client.hpp"
#include "iotgw/common/clock.hpp"
#include "iotgw/common/sas_token.hpp"

namespace iotgw::bench {
namespace {

class Service final : public proton::messaging_handler {
 public:
  Service(const C2dPlan& plan, C2dResult& result)
      : plan_(plan), result_(result), body_(plan.size, 'c') {}

 private:
  void on_container_start(proton::container& c) override {
    const auto token =
        sas::make(plan_.hostname, plan_.policy_key, unix_seconds() + 3600, plan_.policy);
    const auto hub = plan_.hostname.substr(0, plan_.hostname.find('.'));
    c.connect(plan_.url, proton::connection_options()
                             .sasl_allowed_mechs("PLAIN")
                             .sasl_allow_insecure_mechs(true)
                             .user(plan_.policy + "@sas.root." + hub)
                             .password(token));
  }
  void on_connection_open(proton::connection& c) override {
    sender_ = c.open_sender("/messages/devicebound");
  }
  void on_sendable(proton::sender& s) override {
    const auto ahead = [this] {
      // What the hub refused will never arrive: it does not hold the window.
      return result_.sent - (plan_.received != nullptr
                                 ? plan_.received->load(std::memory_order_relaxed) + result_.refused
                                 : settled());
    };
    while (result_.sent < plan_.count && s.credit() > 0 && ahead() < plan_.window) {
      const auto& device =
          plan_.devices[static_cast<std::size_t>(result_.sent) % plan_.devices.size()];
      const auto stamp = now_ns();
      std::memcpy(body_.data(), &stamp, sizeof stamp);
      proton::message m(proton::binary(body_.begin(), body_.end()));
      m.id("bench-" + std::to_string(result_.sent));
      m.to("/devices/" + device + "/messages/devicebound");
      s.send(m);
      ++result_.sent;
    }
    // Held back by the devices, whose progress comes with no event here: look again shortly.
    if (result_.sent < plan_.count && plan_.received != nullptr && !recheck_ &&
        ahead() >= plan_.window) {
      recheck_ = true;
      s.container().schedule(proton::duration(1), [this] {
        recheck_ = false;
        if (!sender_) return;
        on_sendable(sender_);
        // Sent from a timer, outside the connection's events: Proton writes it out only when
        // the connection next has an event, and with nothing in flight none may come.
        sender_.connection().wake();
      });
    }
  }
  void on_tracker_accept(proton::tracker& t) override {
    ++result_.accepted;
    done_if_settled(t);
  }
  void on_tracker_reject(proton::tracker& t) override {
    ++result_.refused;
    done_if_settled(t);
  }
  void on_tracker_release(proton::tracker& t) override {
    ++result_.refused;
    done_if_settled(t);
  }
  void on_tracker_settle(proton::tracker& t) override {
    if (sender_) on_sendable(sender_);
    (void)t;
  }
  void on_transport_error(proton::transport& t) override { result_.error = t.error().what(); }
  void on_connection_error(proton::connection& c) override { result_.error = c.error().what(); }

  long settled() const { return result_.accepted + result_.refused; }
  void done_if_settled(proton::tracker& t) {
    if (settled() == plan_.count) t.connection().close();
  }

  const C2dPlan& plan_;
  C2dResult& result_;
  std::string body_;
  proton::sender sender_;
  bool recheck_ = false;
};

}  // namespace

C2dResult send_c2d(const C2dPlan& plan) {
  C2dResult result;
  if (plan.count == 0 || plan.devices.empty()) return result;
  Service service(plan, result);
  try {
    proton::container(service).run();
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace iotgw::bench
