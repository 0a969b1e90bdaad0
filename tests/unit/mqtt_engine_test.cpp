// The MQTT engine with no socket and no host process: bytes in, and what it writes and asks of
// its host out. Every rule of the adapter that does not need the network is checked here.
#include <gtest/gtest.h>

#include <map>

#include "engine.hpp"

namespace iotgw::mqtt {
namespace {

// Records what the engine asks for; answers authenticate and send_upstream with fresh tokens.
class RecordingHost final : public EngineHost {
 public:
  std::vector<Packet> written;
  std::string closed;  // the reason, once closed
  bool paused = false;
  bool held = false;
  std::map<Timer, std::chrono::milliseconds> timers;
  std::vector<Credentials> auths;
  std::vector<std::pair<MessageData, bool>> upstream;
  std::vector<bool> downstream_calls;
  std::vector<std::pair<std::uint64_t, iotgw_outcome>> settled;
  std::vector<std::string> settle_reasons;
  std::vector<std::string> warnings;
  std::map<std::string, Filters> sessions;
  std::uint64_t next_token = 100;

  void write(std::span<const std::uint8_t> bytes) override {
    Packet p;
    std::size_t used = 0;
    std::string error;
    ASSERT_EQ(decode(bytes, {}, p, used, error), Decoded::packet) << error;
    written.push_back(p);
  }
  void close(const std::string& reason) override { closed = reason; }
  void pause_reading(bool p) override { paused = p; }
  bool reading_held() override { return held; }
  void set_timer(Timer t, std::chrono::milliseconds after) override { timers[t] = after; }
  void cancel_timer(Timer t) override { timers.erase(t); }
  std::chrono::steady_clock::time_point now() override { return clock; }
  std::chrono::steady_clock::time_point clock{};  // moved by the tests
  std::optional<std::uint64_t> authenticate(const Credentials& c) override {
    auths.push_back(c);
    return next_token++;
  }
  std::optional<std::uint64_t> send_upstream(MessageData m, bool qos1) override {
    upstream.emplace_back(std::move(m), qos1);
    return next_token++;
  }
  void set_downstream(bool enabled) override { downstream_calls.push_back(enabled); }
  void settle(std::uint64_t delivery, iotgw_outcome outcome, const std::string& reason) override {
    settled.emplace_back(delivery, outcome);
    settle_reasons.push_back(reason);
  }
  bool resume_session(const std::string& device, bool clean, Filters& filters) override {
    auto it = sessions.find(device);
    const bool present = !clean && it != sessions.end();
    filters = present ? it->second : Filters{};
    if (clean) sessions.erase(device);
    return present;
  }
  void store_session(const std::string& device, const Filters& filters) override {
    sessions[device] = filters;
  }
  void log_warning(const std::string& w) override { warnings.push_back(w); }
};

std::vector<std::uint8_t> bytes_of(const Packet& p) {
  std::vector<std::uint8_t> out;
  encode(p, out);
  return out;
}

Connect connect_as(const std::string& device, bool clean = true) {
  Connect c;
  c.client_id = device;
  c.clean_session = clean;
  c.keep_alive = 10;
  c.username = "hub.azure-devices.net/" + device + "/?api-version=2021-04-12";
  c.password = "token";
  return c;
}

class MqttEngine : public testing::Test {
 protected:
  RecordingHost host;
  Engine engine{host, EngineOptions{}};

  std::size_t feed(const Packet& p) {
    const auto b = bytes_of(p);
    return engine.on_bytes(b);
  }
  // CONNECT, then the host's yes.
  void connect(const std::string& device = "dev1", bool clean = true) {
    feed(connect_as(device, clean));
    engine.on_auth_result(host.next_token - 1, IOTGW_OK, device, "");
  }
  template <typename T>
  const T& last() {
    EXPECT_FALSE(host.written.empty());
    return std::get<T>(host.written.back());
  }
};

TEST_F(MqttEngine, ConnectAuthenticatesThenAnswersConnackAccepted) {
  feed(connect_as("dev1"));
  ASSERT_EQ(host.auths.size(), 1U);
  EXPECT_EQ(host.auths[0].client_id, "dev1");
  EXPECT_EQ(host.auths[0].password, "token");
  EXPECT_TRUE(host.paused);  // nothing more is read before CONNACK
  EXPECT_TRUE(host.written.empty());
  engine.on_auth_result(100, IOTGW_OK, "dev1", "");
  EXPECT_EQ(last<Connack>().code, ConnectCode::accepted);
  EXPECT_FALSE(host.paused);
  EXPECT_EQ(host.timers.count(Timer::connect), 0U);
  EXPECT_EQ(host.timers[Timer::keep_alive], std::chrono::milliseconds(15'000));  // 1.5 x 10 s
}

TEST_F(MqttEngine, ConnackCodesSayWhyAConnectIsRefused) {
  const auto refused_with = [](auto&& setup) {
    RecordingHost h;
    Engine e(h, {});
    setup(h, e);
    EXPECT_FALSE(h.closed.empty());
    return std::get<Connack>(h.written.at(0)).code;
  };
  auto feed_to = [](Engine& e, const Connect& c) {
    const auto b = bytes_of(c);
    e.on_bytes(b);
  };
  EXPECT_EQ(refused_with([&](RecordingHost&, Engine& e) {
              auto c = connect_as("dev1");
              c.level = 5;
              feed_to(e, c);
            }),
            ConnectCode::unacceptable_protocol);
  EXPECT_EQ(refused_with([&](RecordingHost&, Engine& e) { feed_to(e, connect_as("")); }),
            ConnectCode::identifier_rejected);
  EXPECT_EQ(refused_with([&](RecordingHost&, Engine& e) {
              auto c = connect_as("dev1");
              c.username = "hub.azure-devices.net/dev2/?api-version=2021-04-12";
              feed_to(e, c);
            }),
            ConnectCode::not_authorized);
  EXPECT_EQ(refused_with([&](RecordingHost& h, Engine& e) {
              feed_to(e, connect_as("dev1"));
              e.on_auth_result(h.next_token - 1, IOTGW_ERR_REFUSED, "", "bad password");
            }),
            ConnectCode::bad_credentials);
  EXPECT_EQ(refused_with([&](RecordingHost& h, Engine& e) {
              feed_to(e, connect_as("dev1"));
              e.on_auth_result(h.next_token - 1, IOTGW_ERR_UNAVAILABLE, "", "hub down");
            }),
            ConnectCode::server_unavailable);
}

TEST_F(MqttEngine, TheFirstPacketMustBeConnect) {
  feed(Bare{PacketType::pingreq});
  EXPECT_EQ(host.closed, "the first packet is not CONNECT");
}

TEST_F(MqttEngine, NoConnectInTimeCloses) {
  EXPECT_EQ(host.timers[Timer::connect], std::chrono::milliseconds(10'000));
  engine.on_timer(Timer::connect);
  EXPECT_EQ(host.closed, "no CONNECT within 10000 ms");
}

TEST_F(MqttEngine, QoS1TelemetryIsAcknowledgedOnlyWhenAccepted) {
  connect();
  feed(Publish{"devices/dev1/messages/events/%24.mid=m1&%24.ct=application%2Fjson&color=red",
               "{\"t\":21}", 1, false, false, 42});
  ASSERT_EQ(host.upstream.size(), 1U);
  const auto& [msg, qos1] = host.upstream[0];
  EXPECT_TRUE(qos1);
  EXPECT_EQ(msg.body, "{\"t\":21}");
  EXPECT_EQ(msg.props.system,
            (std::vector<Property>{{"message-id", "m1"}, {"content-type", "application/json"}}));
  EXPECT_EQ(msg.props.application, (std::vector<Property>{{"color", "red"}}));
  const auto written = host.written.size();
  EXPECT_EQ(written, 1U);  // CONNACK only: no PUBACK yet
  engine.on_upstream_result(host.next_token - 1, IOTGW_ACCEPTED, "");
  EXPECT_EQ(last<Ack>().type, PacketType::puback);
  EXPECT_EQ(last<Ack>().packet_id, 42);
}

TEST_F(MqttEngine, ARefusedMessageClosesWithoutPuback) {
  connect();
  feed(Publish{"devices/dev1/messages/events", "x", 1, false, false, 1});
  engine.on_upstream_result(host.next_token - 1, IOTGW_REJECTED, "too big");
  EXPECT_EQ(host.written.size(), 1U);
  EXPECT_EQ(host.closed, "message 1 not accepted upstream: too big");
}

TEST_F(MqttEngine, ReadingPausesAtTheInflightLimit) {
  connect();
  for (std::uint16_t id = 1; id <= 16; ++id) {
    feed(Publish{"devices/dev1/messages/events/", "x", 1, false, false, id});
  }
  EXPECT_TRUE(host.paused);
  engine.on_upstream_result(host.next_token - 1, IOTGW_ACCEPTED, "");
  EXPECT_FALSE(host.paused);
}

TEST_F(MqttEngine, AHeldHostStopsTheEngineMidBuffer) {
  connect();
  auto both = bytes_of(Publish{"devices/dev1/messages/events/", "a", 0, false, false, 0});
  const auto second = bytes_of(Publish{"devices/dev1/messages/events/", "b", 0, false, false, 0});
  both.insert(both.end(), second.begin(), second.end());
  host.held = true;
  EXPECT_EQ(engine.on_bytes(both), 0U);
  host.held = false;
  EXPECT_EQ(engine.on_bytes(both), both.size());
  EXPECT_EQ(host.upstream.size(), 2U);
}

TEST_F(MqttEngine, AnotherDevicesTopicQoS2AndUnservedTopicsClose) {
  connect();
  feed(Publish{"devices/dev2/messages/events/", "x", 1, false, false, 1});
  EXPECT_EQ(host.closed, "publish as another device: 'devices/dev2/messages/events/'");
  RecordingHost h2;
  Engine e2(h2, {});
  auto c = bytes_of(connect_as("dev1"));
  e2.on_bytes(c);
  e2.on_auth_result(h2.next_token - 1, IOTGW_OK, "dev1", "");
  auto q2 = bytes_of(Publish{"devices/dev1/messages/events/", "x", 2, false, false, 1});
  e2.on_bytes(q2);
  EXPECT_EQ(h2.closed, "QoS 2 is not served");
  RecordingHost h3;
  Engine e3(h3, {});
  e3.on_bytes(c);
  e3.on_auth_result(h3.next_token - 1, IOTGW_OK, "dev1", "");
  auto other = bytes_of(Publish{"sensors/temp", "x", 0, false, false, 0});
  e3.on_bytes(other);
  EXPECT_EQ(h3.closed, "topic 'sensors/temp' is not served");
  EXPECT_TRUE(h3.upstream.empty());
}

TEST_F(MqttEngine, SubscribeAttachesC2dAndMessagesComeAsQoS1Publishes) {
  connect();
  feed(Subscribe{5, {{"devices/dev1/messages/devicebound/#", 1}, {"$iothub/twin/res/#", 0}}});
  EXPECT_EQ(last<Suback>().codes, (std::vector<std::uint8_t>{1, kSubackFailure}));
  EXPECT_EQ(host.downstream_calls, std::vector<bool>{true});
  MessageData m{"switch on", {{{"message-id", "c2d-1"}}, {{"k", "v w"}}}};
  engine.on_downstream(m, 77);
  const auto& p = last<Publish>();
  EXPECT_EQ(p.topic, "devices/dev1/messages/devicebound/%24.mid=c2d-1&k=v%20w");
  EXPECT_EQ(p.payload, "switch on");
  EXPECT_EQ(p.qos, 1);
  EXPECT_FALSE(p.dup);
  feed(Ack{PacketType::puback, p.packet_id});
  EXPECT_EQ(host.settled,
            (std::vector<std::pair<std::uint64_t, iotgw_outcome>>{{77, IOTGW_ACCEPTED}}));
  m.redelivered = true;
  engine.on_downstream(m, 78);
  EXPECT_TRUE(last<Publish>().dup);
  feed(Unsubscribe{6, {"devices/dev1/messages/devicebound/#"}});
  EXPECT_EQ(last<Ack>().type, PacketType::unsuback);
  EXPECT_EQ(host.downstream_calls, (std::vector<bool>{true, false}));
}

TEST_F(MqttEngine, MappedFiltersTakeC2dOnTheTopicAMappingChose) {
  EngineOptions options;
  options.map_other_topics = true;
  Engine mapped(host, options);
  mapped.on_bytes(bytes_of(connect_as("dev1")));
  mapped.on_auth_result(host.next_token - 1, IOTGW_OK, "dev1", "");
  mapped.on_bytes(bytes_of(Subscribe{3, {{"commands/dev1/#", 1}, {"devices/dev2/x", 1}}}));
  EXPECT_EQ(std::get<Suback>(host.written.back()).codes,
            (std::vector<std::uint8_t>{1, kSubackFailure}));
  EXPECT_EQ(host.downstream_calls, std::vector<bool>{true});

  MessageData m{
      "reboot now", {{}, {{"command", "reboot"}}}, {{"mqtt-topic", "commands/dev1/reboot"}}};
  mapped.on_downstream(m, 90);
  const auto& p = std::get<Publish>(host.written.back());
  EXPECT_EQ(p.topic, "commands/dev1/reboot");  // no property bag: not an IoT Hub topic
  EXPECT_EQ(p.payload, "reboot now");

  // Neither a topic no filter matches, nor the devicebound topic nobody asked for, goes out.
  const auto written = host.written.size();
  MessageData elsewhere{"x", {}, {{"mqtt-topic", "alerts/dev1"}}};
  mapped.on_downstream(elsewhere, 91);
  mapped.on_downstream(MessageData{"y", {}}, 92);
  EXPECT_EQ(host.written.size(), written);
  ASSERT_EQ(host.settled.size(), 2U);
  EXPECT_EQ(host.settled[0], std::make_pair(std::uint64_t{91}, IOTGW_REJECTED));
  EXPECT_EQ(host.settle_reasons[0], "device 'dev1' subscribed to no filter matching 'alerts/dev1'");
  EXPECT_EQ(host.settled[1], std::make_pair(std::uint64_t{92}, IOTGW_REJECTED));
  EXPECT_EQ(host.settle_reasons[1], "device 'dev1' subscribed to no devicebound filter");

  mapped.on_bytes(bytes_of(Unsubscribe{4, {"commands/dev1/#"}}));
  EXPECT_EQ(host.downstream_calls, (std::vector<bool>{true, false}));
}

TEST_F(MqttEngine, WithoutMappingOtherFiltersAreRefused) {
  connect();
  feed(Subscribe{3, {{"commands/dev1/#", 1}}});
  EXPECT_EQ(last<Suback>().codes, std::vector<std::uint8_t>{kSubackFailure});
  EXPECT_TRUE(host.downstream_calls.empty());
}

TEST_F(MqttEngine, KeepAliveExpiryClosesAndSendsTheWill) {
  auto c = connect_as("dev1");
  c.will = Will{"devices/dev1/messages/events/%24.ct=text%2Fplain", "offline", 0, false};
  feed(c);
  engine.on_auth_result(host.next_token - 1, IOTGW_OK, "dev1", "");
  // A packet 10 s in: the timer that fires at 15 s waits out the rest, from that packet.
  host.clock += std::chrono::seconds(10);
  feed(Bare{PacketType::pingreq});
  host.clock += std::chrono::seconds(5);
  engine.on_timer(Timer::keep_alive);
  EXPECT_TRUE(host.closed.empty());
  EXPECT_EQ(host.timers[Timer::keep_alive], std::chrono::milliseconds(10'000));
  host.clock += std::chrono::seconds(10);
  engine.on_timer(Timer::keep_alive);
  EXPECT_EQ(host.closed, "keep-alive expired: nothing received for 15000 ms");
  engine.on_closed();
  ASSERT_EQ(host.upstream.size(), 1U);
  EXPECT_EQ(host.upstream[0].first.body, "offline");
  EXPECT_FALSE(host.upstream[0].second);
  EXPECT_EQ(host.upstream[0].first.props.system,
            (std::vector<Property>{{"content-type", "text/plain"}}));
  EXPECT_EQ(host.upstream[0].first.props.application[0], (Property{"iothub-mqtt-will", "true"}));
}

TEST_F(MqttEngine, DisconnectDiscardsTheWill) {
  auto c = connect_as("dev1");
  c.will = Will{"devices/dev1/messages/events/", "offline", 0, false};
  feed(c);
  engine.on_auth_result(host.next_token - 1, IOTGW_OK, "dev1", "");
  feed(Bare{PacketType::disconnect});
  engine.on_closed();
  EXPECT_TRUE(host.upstream.empty());
  EXPECT_EQ(host.closed, "the client disconnected");
}

TEST_F(MqttEngine, DrainingAnswersWhatIsInFlightThenCloses) {
  connect();
  feed(Publish{"devices/dev1/messages/events/", "x", 1, false, false, 9});
  engine.on_drain();
  EXPECT_TRUE(host.paused);
  EXPECT_TRUE(host.closed.empty());
  engine.on_upstream_result(host.next_token - 1, IOTGW_ACCEPTED, "");
  EXPECT_EQ(last<Ack>().packet_id, 9);
  EXPECT_EQ(host.closed, "the gateway is draining");
}

TEST_F(MqttEngine, PingreqGetsPingresp) {
  connect();
  feed(Bare{PacketType::pingreq});
  EXPECT_EQ(last<Bare>().type, PacketType::pingresp);
}

TEST_F(MqttEngine, APersistentSessionRestoresItsSubscription) {
  connect("dev1", false);
  EXPECT_FALSE(last<Connack>().session_present);
  feed(Subscribe{1, {{"devices/dev1/messages/devicebound/#", 1}}});
  engine.on_closed();
  RecordingHost& h = host;
  Engine again(h, {});
  h.downstream_calls.clear();
  auto c = bytes_of(connect_as("dev1", false));
  again.on_bytes(c);
  again.on_auth_result(h.next_token - 1, IOTGW_OK, "dev1", "");
  EXPECT_TRUE(std::get<Connack>(h.written.back()).session_present);
  EXPECT_EQ(h.downstream_calls, std::vector<bool>{true});
}

}  // namespace
}  // namespace iotgw::mqtt
