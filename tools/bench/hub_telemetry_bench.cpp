// iotgw-bench-hub-telemetry: how fast iotgw-hub accepts device telemetry from one Proton sender.
//
//   iotgw-bench-hub-telemetry URL DEVICE TOKEN [--count N] [--size BYTES] [--window W]
//
// One connection, SASL ANONYMOUS, the device's token put on $cbs, then N messages of SIZE bytes
// with at most W unsettled; the clock runs from the first send to the last accepted outcome.
// Prints one line: sent, accepted, rejected, seconds, msgs/s, MB/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>

namespace {

struct Options {
  std::string url, device, token;
  long count = 100'000;
  std::size_t size = 256;
  int window = 1000;
};

class Bench final : public proton::messaging_handler {
 public:
  explicit Bench(const Options& o) : o_(o), payload_(o.size, 'x') {}
  int exit_code = 0;

 private:
  using Clock = std::chrono::steady_clock;

  void on_container_start(proton::container& c) override {
    c.connect(o_.url,
              proton::connection_options().sasl_allowed_mechs("ANONYMOUS").max_frame_size(65536));
  }
  void on_connection_open(proton::connection& c) override {
    cbs_in_ = c.open_receiver("$cbs");
    cbs_out_ = c.open_sender("$cbs");
  }
  void on_message(proton::delivery& d, proton::message& m) override {
    if (d.receiver() != cbs_in_) return;
    if (proton::get<std::int32_t>(m.properties().get("status-code")) != 200) {
      std::cerr << "token refused: "
                << proton::get<std::string>(m.properties().get("status-description")) << "\n";
      exit_code = 1;
      d.connection().close();
      return;
    }
    telemetry_ = d.connection().open_sender("/devices/" + o_.device + "/messages/events");
  }
  void on_sendable(proton::sender& s) override {
    if (s == cbs_out_ && !token_sent_) {
      proton::message put;
      put.id(proton::message_id("t1"));
      put.reply_to("cbs");
      put.body(o_.token);
      put.properties().put("operation", std::string("put-token"));
      put.properties().put("type", std::string("servicebus.windows.net:sastoken"));
      put.properties().put("name", audience());
      s.send(put);
      token_sent_ = true;
      return;
    }
    if (s != telemetry_) return;
    if (sent_ == 0) start_ = Clock::now();
    proton::message m;
    m.body(proton::binary(payload_.begin(), payload_.end()));
    while (s.credit() > 0 && sent_ < o_.count && sent_ - settled_ < o_.window) {
      s.send(m);
      ++sent_;
    }
  }
  void on_tracker_accept(proton::tracker& t) override { done(t, true); }
  void on_tracker_reject(proton::tracker& t) override { done(t, false); }
  void on_tracker_release(proton::tracker& t) override { done(t, false); }

  void done(proton::tracker& t, bool accepted) {
    if (t.sender() != telemetry_) return;
    ++settled_;
    (accepted ? accepted_ : refused_)++;
    if (settled_ == o_.count) {
      const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
      std::printf("sent %ld accepted %ld refused %ld seconds %.3f msgs/s %.0f MB/s %.2f\n", sent_,
                  accepted_, refused_, secs, accepted_ / secs,
                  accepted_ * double(o_.size) / secs / 1e6);
      exit_code = refused_ == 0 ? 0 : 1;
      t.connection().close();
      return;
    }
    auto s = telemetry_;
    on_sendable(s);
  }
  std::string audience() const {
    // The token's own sr is the audience: "{host}/devices/{id}", URL-decoded.
    const auto sr = o_.token.find("sr=");
    std::string enc = o_.token.substr(sr + 3, o_.token.find('&', sr) - sr - 3);
    std::string out;
    for (std::size_t i = 0; i < enc.size(); ++i) {
      if (enc[i] == '%' && i + 2 < enc.size()) {
        out += static_cast<char>(std::strtol(enc.substr(i + 1, 2).c_str(), nullptr, 16));
        i += 2;
      } else {
        out += enc[i];
      }
    }
    return out;
  }

  const Options& o_;
  std::string payload_;
  proton::receiver cbs_in_;
  proton::sender cbs_out_, telemetry_;
  bool token_sent_ = false;
  long sent_ = 0, settled_ = 0, accepted_ = 0, refused_ = 0;
  Clock::time_point start_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: iotgw-bench-hub-telemetry URL DEVICE TOKEN [--count N] [--size BYTES] "
                 "[--window W]\n";
    return 2;
  }
  Options o{argv[1], argv[2], argv[3]};
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--count")
      o.count = std::stol(argv[i + 1]);
    else if (a == "--size")
      o.size = std::stoul(argv[i + 1]);
    else if (a == "--window")
      o.window = std::stoi(argv[i + 1]);
  }
  Bench b(o);
  proton::container(b).run();
  return b.exit_code;
}
