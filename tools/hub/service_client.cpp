#include "service_client.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>

#include <proton/annotation_key.hpp>
#include <proton/codec/map.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender.hpp>
#include <proton/source_options.hpp>
#include <proton/target_options.hpp>

#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include "iotgw/common/clock.hpp"

#include <nlohmann/json.hpp>

#include "iotgw/common/amqp_text.hpp"
#include "json_text.hpp"

namespace iotgw::hub {

namespace {

std::string text_of(const proton::value& v) {
  if (v.type() == proton::STRING) return proton::get<std::string>(v);
  if (v.type() == proton::BINARY) {
    const auto b = proton::get<proton::binary>(v);
    return {b.begin(), b.end()};
  }
  return proton::to_string(v);
}

// The shared part: connect, put the token, then hand over to ready().
class ServiceSession : public proton::messaging_handler {
 public:
  explicit ServiceSession(const ServiceTarget& target) : target_(target) {}
  int exit_code() const { return exit_code_; }

 protected:
  virtual void ready(proton::connection& c) = 0;
  void finish(proton::connection c, int code) {
    exit_code_ = code;
    c.close();
  }

  void on_container_start(proton::container& c) override {
    c.connect(target_.url, proton::connection_options().sasl_allowed_mechs("ANONYMOUS"));
  }
  void on_connection_open(proton::connection& c) override {
    cbs_in_ = c.open_receiver("$cbs");
    cbs_out_ = c.open_sender("$cbs");
  }
  void on_sendable(proton::sender& s) override {
    if (s != cbs_out_ || token_sent_) return;
    proton::message put;
    put.id(proton::message_id("put-token-1"));
    put.reply_to("cbs");
    put.to("$cbs");
    put.body(target_.token);
    put.properties().put("operation", std::string("put-token"));
    put.properties().put("type", std::string("servicebus.windows.net:sastoken"));
    put.properties().put("name", target_.hostname);
    s.send(put);
    token_sent_ = true;
  }
  void on_message(proton::delivery& d, proton::message& m) override {
    if (d.receiver() != cbs_in_) return;
    const auto status = m.properties().exists("status-code")
                            ? proton::get<std::int32_t>(m.properties().get("status-code"))
                            : 0;
    if (status != 200 && status != 202) {
      std::cerr << "iotgw-hub: the hub refused the service token: " << status << " "
                << (m.properties().exists("status-description")
                        ? proton::get<std::string>(m.properties().get("status-description"))
                        : std::string())
                << "\n";
      finish(d.connection(), 1);
      return;
    }
    auto c = d.connection();
    ready(c);
  }
  void on_transport_error(proton::transport& t) override {
    std::cerr << "iotgw-hub: " << target_.url << ": " << t.error().what() << "\n";
    exit_code_ = 1;
  }
  void on_receiver_error(proton::receiver& r) override { link_error(r.error(), r.connection()); }
  void on_sender_error(proton::sender& s) override { link_error(s.error(), s.connection()); }

 private:
  void link_error(const proton::error_condition& e, proton::connection c) {
    std::cerr << "iotgw-hub: " << e.name() << ": " << e.description() << "\n";
    finish(c, 1);
  }

  const ServiceTarget& target_;
  proton::receiver cbs_in_;
  proton::sender cbs_out_;
  bool token_sent_ = false;
  int exit_code_ = 0;
};

// The AMQP properties a device's message set (left out when empty), as IoT Hub's service side
// reads them: what MQTT 5's content type, correlation data, response topic and expiry become.
nlohmann::ordered_json system_properties(const proton::message& m) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  const auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) out[key] = value;
  };
  if (!m.id().empty()) put("message-id", proton::to_string(m.id()));
  if (!m.correlation_id().empty()) put("correlation-id", proton::to_string(m.correlation_id()));
  put("content-type", m.content_type());
  put("content-encoding", m.content_encoding());
  put("reply-to", m.reply_to());
  if (m.expiry_time().milliseconds() != 0) {
    put("absolute-expiry-time", iso8601_utc(m.expiry_time().milliseconds()));
  }
  return out;
}

class Monitor final : public ServiceSession {
 public:
  Monitor(const ServiceTarget& t, std::string group, long count)
      : ServiceSession(t), group_(std::move(group)), count_(count) {}

 private:
  void ready(proton::connection& c) override {
    const auto address = "/messages/events/ConsumerGroups/" + group_ + "/Partitions/0";
    if (count_ <= 0) {
      // Proton's default window of 10 makes a round trip per ten messages; a reader draining
      // the hub at load (tools/faults' soak) needs more in flight.
      events_ = c.open_receiver(address, proton::receiver_options().credit_window(1000));
      return;
    }
    // Credit for exactly --count: with Proton's default prefetch the hub sent up to ten, and
    // those already here were printed before the close, so `--count 1` could print five.
    events_ = c.open_receiver(address, proton::receiver_options().credit_window(0));
    events_.add_credit(static_cast<int>(std::min<long>(count_, 1 << 20)));
  }
  void on_message(proton::delivery& d, proton::message& m) override {
    if (d.receiver() != events_) {
      ServiceSession::on_message(d, m);
      return;
    }
    if (count_ > 0 && seen_ >= count_) return;
    std::map<proton::annotation_key, proton::value> ann;
    if (!m.message_annotations().empty()) proton::get(m.message_annotations().value(), ann);
    auto annotation = [&](const char* key) -> std::string {
      auto it = ann.find(proton::annotation_key(proton::symbol(key)));
      return it == ann.end() ? std::string() : proton::to_string(it->second);
    };
    // One JSON object per line, fields in a fixed order (device first) for people reading it.
    nlohmann::ordered_json line;
    line["device"] = annotation("iothub-connection-device-id");
    const auto seq = ann.find(proton::annotation_key(proton::symbol("x-opt-sequence-number")));
    line["sequence"] = seq != ann.end()
                           ? nlohmann::ordered_json(amqp_integer(seq->second).value_or(0))
                           : nlohmann::ordered_json();
    line["durable"] = m.durable();
    line["properties"] = nlohmann::ordered_json::object();
    if (!m.properties().empty()) {
      std::map<std::string, proton::scalar> props;
      proton::get(m.properties().value(), props);
      for (const auto& [k, v] : props) line["properties"][k] = proton::to_string(v);
    }
    line["system"] = system_properties(m);
    line["body"] = text_of(m.body());
    std::cout << line.dump(-1, ' ', false, kJsonReplace)
              << std::endl;  // one line as it arrives: a pipe reader sees it now
    d.accept();
    if (count_ > 0 && ++seen_ >= count_) finish(d.connection(), 0);
  }

  std::string group_;
  long count_;
  long seen_ = 0;
  proton::receiver events_;
};

class SendC2d final : public ServiceSession {
 public:
  SendC2d(const ServiceTarget& t, proton::message msg) : ServiceSession(t), msg_(std::move(msg)) {}

 private:
  void ready(proton::connection& c) override { out_ = c.open_sender("/messages/devicebound"); }
  void on_sendable(proton::sender& s) override {
    if (s != out_) {
      ServiceSession::on_sendable(s);
      return;
    }
    if (sent_) return;
    s.send(msg_);
    sent_ = true;
  }
  void on_tracker_accept(proton::tracker& t) override {
    if (t.sender() != out_) return;
    std::cout << "accepted: message " << proton::to_string(msg_.id()) << " queued for " << msg_.to()
              << "\n";
    finish(t.connection(), 0);
  }
  void on_tracker_reject(proton::tracker& t) override {
    if (t.sender() != out_) return;
    std::cerr << "iotgw-hub: the hub rejected the message (see its log for the reason)\n";
    finish(t.connection(), 1);
  }

  proton::message msg_;
  proton::sender out_;
  bool sent_ = false;
};

}  // namespace

int monitor(const ServiceTarget& target, const std::string& consumer_group, long count) {
  Monitor handler(target, consumer_group, count);
  proton::container(handler).run();
  return handler.exit_code();
}

int send_c2d(const ServiceTarget& target, const std::string& device, const std::string& body,
             const std::map<std::string, std::string>& properties, const std::string& ack) {
  proton::message m;
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  m.id(proton::message_id("c2d-" + std::to_string(::getpid()) + "-" + std::to_string(now)));
  m.to("/devices/" + device + "/messages/devicebound");
  set_data_body(m, body);  // as a service SDK sends it
  for (const auto& [k, v] : properties) m.properties().put(k, v);
  if (!ack.empty()) m.properties().put("iothub-ack", ack);
  SendC2d handler(target, m);
  proton::container(handler).run();
  return handler.exit_code();
}

}  // namespace iotgw::hub
