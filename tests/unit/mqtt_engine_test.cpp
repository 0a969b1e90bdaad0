// The MQTT engine with no socket and no host process: bytes in, and what it writes and asks of
// its host out. Every rule of the adapter that does not need the network is checked here.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "engine.hpp"
#include "mqtt_recording_host.hpp"

namespace iotgw::mqtt {
namespace {

using namespace testing_host;

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
  // The hub's answer to the operation asked last.
  void answer(int status, std::string_view body = {}, std::int64_t version = -1,
              std::string_view reason = {}) {
    ASSERT_FALSE(host.requests.empty());
    engine.on_operation_result(host.requests.back().token,
                               OperationResult{status, version, body, reason});
  }
  // Connected, and subscribed to twin responses as every SDK is before its first request.
  void connect_for_twin() {
    connect();
    feed(Subscribe{1, {{"$iothub/twin/res/#", 1}}});
  }
  // Connected, with the hub routing method calls here.
  void connect_for_methods() {
    connect();
    feed(Subscribe{1, {{"$iothub/methods/POST/#", 0}}});
    answer(200);
  }
  void call(std::uint64_t id, std::string_view name, std::string_view body) {
    engine.on_hub_request(HubRequest{IOTGW_HUB_METHOD_CALL, id, name, body, -1});
  }
  void desired_patch(std::int64_t version, std::string_view body) {
    engine.on_hub_request(HubRequest{IOTGW_HUB_DESIRED_PATCH, 0, {}, body, version});
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
    Engine e(h, EngineOptions{});
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
              c.level = 6;
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
  EXPECT_FALSE(host.refusing_over_rate);  // 3.1.1 cannot say why: over its rate, it is slowed
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
  Engine e2(h2, EngineOptions{});
  auto c = bytes_of(connect_as("dev1"));
  e2.on_bytes(c);
  e2.on_auth_result(h2.next_token - 1, IOTGW_OK, "dev1", "");
  auto q2 = bytes_of(Publish{"devices/dev1/messages/events/", "x", 2, false, false, 1});
  e2.on_bytes(q2);
  EXPECT_EQ(h2.closed, "QoS 2 is not served");
  RecordingHost h3;
  Engine e3(h3, EngineOptions{});
  e3.on_bytes(c);
  e3.on_auth_result(h3.next_token - 1, IOTGW_OK, "dev1", "");
  auto other = bytes_of(Publish{"sensors/temp", "x", 0, false, false, 0});
  e3.on_bytes(other);
  EXPECT_EQ(h3.closed, "topic 'sensors/temp' is not served");
  EXPECT_TRUE(h3.upstream.empty());
}

TEST_F(MqttEngine, SubscribeAttachesC2dAndMessagesComeAsQoS1Publishes) {
  connect();
  feed(Subscribe{
      5, {{"devices/dev1/messages/devicebound/#", 1}, {"devices/dev2/messages/devicebound/#", 1}}});
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
  EXPECT_EQ(last<Unsuback>().packet_id, 6);
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
  feed(Disconnect{});
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
  Engine again(h, EngineOptions{});
  h.downstream_calls.clear();
  auto c = bytes_of(connect_as("dev1", false));
  again.on_bytes(c);
  again.on_auth_result(h.next_token - 1, IOTGW_OK, "dev1", "");
  EXPECT_TRUE(std::get<Connack>(h.written.back()).session_present);
  EXPECT_EQ(h.downstream_calls, std::vector<bool>{true});
}

// Azure's Node device SDK connects with clean_session=0 and, renewing its token by reconnecting,
// subscribes to nothing again: the stored session must keep the twin and method filters, and the
// next connection must ask the hub again by itself.
TEST_F(MqttEngine, APersistentSessionKeepsTwinAndMethodSubscriptionsAndAsksTheHubAgain) {
  connect("dev1", false);
  feed(Subscribe{1,
                 {{"$iothub/twin/res/#", 0},
                  {"$iothub/twin/PATCH/properties/desired/#", 0},
                  {"$iothub/methods/POST/#", 0}}});
  answer(200);  // methods (asked last)
  engine.on_operation_result(host.requests.at(0).token, OperationResult{200, -1, {}, {}});
  EXPECT_EQ(last<Suback>().codes, (std::vector<std::uint8_t>{0, 0, 0}));
  engine.on_closed();

  host.requests.clear();
  Engine again(host, EngineOptions{});
  again.on_bytes(bytes_of(connect_as("dev1", false)));
  again.on_auth_result(host.next_token - 1, IOTGW_OK, "dev1", "");
  EXPECT_TRUE(last<Connack>().session_present);
  ASSERT_EQ(host.requests.size(), 2U);  // the hub is asked again; no SUBACK is owed
  EXPECT_EQ((std::set<iotgw_op_kind>{host.requests[0].kind, host.requests[1].kind}),
            (std::set<iotgw_op_kind>{IOTGW_OP_TWIN_WATCH_DESIRED, IOTGW_OP_METHODS_ENABLE}));
  const auto written = host.written.size();
  for (const auto& r : host.requests) again.on_operation_result(r.token, {200, -1, {}, {}});
  EXPECT_EQ(host.written.size(), written);
  EXPECT_TRUE(host.downstream_calls.empty());  // no C2D filter: no C2D link

  // Twin answers, desired patches and method calls reach the device as before.
  again.on_bytes(bytes_of(Publish{"$iothub/twin/GET/?$rid=7", "", 0, false, false, 0}));
  again.on_operation_result(host.requests.back().token, {200, -1, R"({"desired":{}})", {}});
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/200/?$rid=7");
  again.on_hub_request(HubRequest{IOTGW_HUB_DESIRED_PATCH, 0, {}, R"({"a":1})", 3});
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/PATCH/properties/desired/?$version=3");
  again.on_hub_request(HubRequest{IOTGW_HUB_METHOD_CALL, 5, "reboot", "{}", -1});
  EXPECT_EQ(last<Publish>().topic.rfind("$iothub/methods/POST/reboot/?$rid=", 0), 0U);
  EXPECT_TRUE(host.responses.empty());  // not answered 404 for the device

  // A clean session forgets them.
  again.on_closed();
  host.requests.clear();
  Engine clean(host, EngineOptions{});
  clean.on_bytes(bytes_of(connect_as("dev1", true)));
  clean.on_auth_result(host.next_token - 1, IOTGW_OK, "dev1", "");
  EXPECT_FALSE(last<Connack>().session_present);
  EXPECT_TRUE(host.requests.empty());
}

TEST_F(MqttEngine, AStoredSubscriptionTheHubRefusesIsLoggedAsAWarning) {
  connect("dev1", false);
  feed(Subscribe{1, {{"$iothub/methods/POST/#", 0}}});
  answer(200);
  engine.on_closed();
  Engine again(host, EngineOptions{});
  again.on_bytes(bytes_of(connect_as("dev1", false)));
  again.on_auth_result(host.next_token - 1, IOTGW_OK, "dev1", "");
  again.on_operation_result(host.requests.back().token, {503, -1, {}, "no hub"});
  ASSERT_FALSE(host.warnings.empty());
  EXPECT_NE(host.warnings.back().find("no hub"), std::string::npos) << host.warnings.back();
  // Now off: a call is answered 404 for the device, as with no subscription.
  again.on_hub_request(HubRequest{IOTGW_HUB_METHOD_CALL, 6, "reboot", "{}", -1});
  ASSERT_EQ(host.responses.size(), 1U);
  EXPECT_EQ(host.responses[0].status, 404);
}

// Twin and direct methods: IoT Hub's `$iothub/` topics as operations with the hub.

TEST_F(MqttEngine, TwinResponsesNeedNoOperationAndGrantAtMostQoS1) {
  connect();
  feed(Subscribe{1, {{"$iothub/twin/res/#", 2}}});
  EXPECT_EQ(last<Suback>().codes, std::vector<std::uint8_t>{1});
  EXPECT_TRUE(host.requests.empty());
  EXPECT_TRUE(host.downstream_calls.empty());  // not a C2D filter
}

TEST_F(MqttEngine, ATwinGetIsAnsweredOnTheResponseTopicWithItsRid) {
  connect_for_twin();
  feed(Publish{"$iothub/twin/GET/?$rid=42", "", 1, false, false, 7});
  ASSERT_EQ(host.requests.size(), 1U);
  EXPECT_EQ(host.requests[0].kind, IOTGW_OP_TWIN_GET);
  EXPECT_EQ(host.requests[0].body, "");
  // Taken: the PUBACK does not wait for the hub, the response topic carries the outcome.
  EXPECT_EQ(last<Ack>().type, PacketType::puback);
  EXPECT_EQ(last<Ack>().packet_id, 7);
  const std::string twin = R"({"desired":{"$version":3},"reported":{"$version":5}})";
  answer(200, twin);
  const auto& p = last<Publish>();
  EXPECT_EQ(p.topic, "$iothub/twin/res/200/?$rid=42");
  EXPECT_EQ(p.payload, twin);
  EXPECT_EQ(p.qos, 0);
  EXPECT_TRUE(host.closed.empty());
}

TEST_F(MqttEngine, TheRidIsEchoedExactlyWhateverItHolds) {
  connect_for_twin();
  feed(Publish{"$iothub/twin/GET/?%24rid=a%20b=c/d?e&$version=3", "", 0, false, false, 0});
  answer(200, "{}");
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/200/?$rid=a%20b=c/d?e");
}

TEST_F(MqttEngine, AReportedPatchIsAnsweredWithTheNewVersionAndNoBodyOn204) {
  connect_for_twin();
  feed(Publish{"$iothub/twin/PATCH/properties/reported/?$rid=r1", R"({"temp":21})", 0, false, false,
               0});
  ASSERT_EQ(host.requests.size(), 1U);
  EXPECT_EQ(host.requests[0].kind, IOTGW_OP_TWIN_PATCH_REPORTED);
  EXPECT_EQ(host.requests[0].body, R"({"temp":21})");
  answer(204, "ignored", 6);
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/204/?$rid=r1&$version=6");
  EXPECT_EQ(last<Publish>().payload, "");
  // Not JSON: the hub judges it, and its error goes back as it gave it, with no version.
  feed(Publish{"$iothub/twin/PATCH/properties/reported/?$rid=r2", "not json", 0, false, false, 0});
  EXPECT_EQ(host.requests.back().body, "not json");
  answer(400, R"({"errorCode":400004})");
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/400/?$rid=r2");
  EXPECT_EQ(last<Publish>().payload, R"({"errorCode":400004})");
}

TEST_F(MqttEngine, AStatusTheGatewayChoseGoesToTheDeviceAndItsReasonToTheDebugLog) {
  connect_for_twin();
  feed(Publish{"$iothub/twin/GET/?$rid=1", "", 0, false, false, 0});
  answer(504, {}, -1, "the hub did not answer within 30000 ms");
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/504/?$rid=1");
  ASSERT_FALSE(host.debugs.empty());
  EXPECT_NE(host.debugs.back().find("the hub did not answer within 30000 ms"), std::string::npos);
}

// Azure's Node device SDK takes a twin answer for an error only when its body is JSON with an
// errorCode (it never reads the status in the topic): an empty body read as success.
TEST_F(MqttEngine, EveryTwinErrorHasABodyWithAnErrorCodeAndAMessage) {
  connect_for_twin();
  feed(Publish{"$iothub/twin/PATCH/properties/reported/?$rid=1", "{}", 0, false, false, 0});
  answer(504, {}, -1, "the hub did not answer within \"30\" s");
  EXPECT_EQ(last<Publish>().payload,
            R"({"errorCode":504,"message":"the hub did not answer within \"30\" s"})");
  feed(Publish{"$iothub/twin/GET/?$rid=2", "", 0, false, false, 0});
  answer(503, "the hub said no\n");  // not JSON: becomes the message
  EXPECT_EQ(last<Publish>().payload, R"({"errorCode":503,"message":"the hub said no\u000a"})");
  feed(Publish{"$iothub/twin/GET/?$rid=3", "", 0, false, false, 0});
  answer(500, {});
  EXPECT_EQ(last<Publish>().payload, R"({"errorCode":500,"message":"status 500"})");
  feed(Publish{"$iothub/twin/POST/?$rid=4", "{}", 0, false, false, 0});  // the adapter's own
  EXPECT_EQ(last<Publish>().payload, R"({"errorCode":400,"message":"no such twin resource"})");
  feed(Publish{"$iothub/twin/GET/?$rid=5", "", 0, false, false, 0});
  answer(200, R"({"desired":{}})");  // success bodies are left alone
  EXPECT_EQ(last<Publish>().payload, R"({"desired":{}})");
}

TEST_F(MqttEngine, WithoutTheResponseSubscriptionTheAnswerIsNotPublished) {
  connect();
  feed(Publish{"$iothub/twin/GET/?$rid=1", "", 0, false, false, 0});
  EXPECT_EQ(host.requests.size(), 1U);
  answer(200, "{}");
  EXPECT_EQ(host.written.size(), 1U);  // CONNACK only
}

TEST_F(MqttEngine, BadTwinRequestsGetIoTHubsErrorStatusAndNeverClose) {
  connect_for_twin();
  const auto written = host.written.size();
  feed(Publish{"$iothub/twin/POST/?$rid=1", "{}", 0, false, false, 0});
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/400/?$rid=1");
  feed(Publish{"$iothub/twin/PATCH/properties/desired/?$rid=2", "{}", 0, false, false, 0});
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/400/?$rid=2");
  EXPECT_EQ(host.written.size(), written + 2);
  // No rid to answer: dropped, as IoT Hub does; a QoS 1 one is still acknowledged.
  feed(Publish{"$iothub/twin/GET/", "", 1, false, false, 3});
  feed(Publish{"$iothub/twin/GET/?$rid=", "", 0, false, false, 0});
  EXPECT_EQ(host.written.size(), written + 3);
  EXPECT_EQ(last<Ack>().packet_id, 3);
  EXPECT_TRUE(host.requests.empty());
  EXPECT_TRUE(host.closed.empty());
}

TEST_F(MqttEngine, TwinRequestsBeyondTheBoundAreAnswered429) {
  EngineOptions options;
  options.max_operations = 2;
  Engine bounded(host, options);
  bounded.on_bytes(bytes_of(connect_as("dev1")));
  bounded.on_auth_result(host.next_token - 1, IOTGW_OK, "dev1", "");
  bounded.on_bytes(bytes_of(Subscribe{1, {{"$iothub/twin/res/#", 0}}}));
  for (const auto* rid : {"1", "2", "3"}) {
    bounded.on_bytes(
        bytes_of(Publish{std::string("$iothub/twin/GET/?$rid=") + rid, "", 0, false, false, 0}));
  }
  EXPECT_EQ(host.requests.size(), 2U);
  EXPECT_EQ(std::get<Publish>(host.written.back()).topic, "$iothub/twin/res/429/?$rid=3");
  // An answer makes room again.
  bounded.on_operation_result(host.requests[0].token, {200, -1, "{}", {}});
  bounded.on_bytes(bytes_of(Publish{"$iothub/twin/GET/?$rid=4", "", 0, false, false, 0}));
  EXPECT_EQ(host.requests.size(), 3U);
}

TEST_F(MqttEngine, AHostWithoutOperationsGets503AndSubackFailure) {
  connect_for_twin();
  host.takes_operations = false;
  feed(Publish{"$iothub/twin/GET/?$rid=9", "", 1, false, false, 4});
  EXPECT_EQ(std::get<Publish>(host.written.at(host.written.size() - 2)).topic,
            "$iothub/twin/res/503/?$rid=9");
  EXPECT_EQ(last<Ack>().packet_id, 4);
  feed(Subscribe{2, {{"$iothub/twin/PATCH/properties/desired/#", 1}}});
  EXPECT_EQ(last<Suback>().codes, std::vector<std::uint8_t>{kSubackFailure});
  EXPECT_TRUE(host.closed.empty());
}

TEST_F(MqttEngine, TheDesiredSubscriptionWaitsForTheHubThenPatchesArrive) {
  connect();
  feed(Subscribe{3, {{"$iothub/twin/PATCH/properties/desired/#", 1}}});
  ASSERT_EQ(host.requests.size(), 1U);
  EXPECT_EQ(host.requests[0].kind, IOTGW_OP_TWIN_WATCH_DESIRED);
  EXPECT_EQ(host.written.size(), 1U);  // no SUBACK before the hub agrees
  answer(200);
  EXPECT_EQ(last<Suback>().packet_id, 3);
  EXPECT_EQ(last<Suback>().codes, std::vector<std::uint8_t>{1});
  desired_patch(5, R"({"fan":"on","$version":5})");
  const auto& p = last<Publish>();
  EXPECT_EQ(p.topic, "$iothub/twin/PATCH/properties/desired/?$version=5");
  EXPECT_EQ(p.payload, R"({"fan":"on","$version":5})");
  EXPECT_EQ(p.qos, 0);
  feed(Unsubscribe{4, {"$iothub/twin/PATCH/properties/desired/#"}});
  EXPECT_EQ(host.requests.back().kind, IOTGW_OP_TWIN_UNWATCH_DESIRED);
  EXPECT_EQ(last<Unsuback>().packet_id, 4);
  const auto written = host.written.size();
  desired_patch(6, "{}");
  EXPECT_EQ(host.written.size(), written);
}

TEST_F(MqttEngine, AFailedWatchIsSubackFailureAndBringsNoPatches) {
  connect();
  feed(Subscribe{3, {{"$iothub/twin/PATCH/properties/desired/#", 1}}});
  answer(503, {}, -1, "the hub cannot be reached");
  EXPECT_EQ(last<Suback>().codes, std::vector<std::uint8_t>{kSubackFailure});
  const auto written = host.written.size();
  desired_patch(5, "{}");
  EXPECT_EQ(host.written.size(), written);
  EXPECT_TRUE(host.closed.empty());
}

TEST_F(MqttEngine, AnUnsubscribeBeforeTheHubAnswersWinsAndItsAckWaitsItsTurn) {
  connect();
  feed(Subscribe{3, {{"$iothub/twin/PATCH/properties/desired/#", 1}}});
  const auto watch = host.requests.back().token;
  feed(Unsubscribe{4, {"$iothub/twin/PATCH/properties/desired/#"}});
  EXPECT_EQ(host.requests.back().kind, IOTGW_OP_TWIN_UNWATCH_DESIRED);
  EXPECT_EQ(host.written.size(), 1U);  // the UNSUBACK waits behind the SUBACK
  engine.on_operation_result(watch, {200, -1, {}, {}});
  ASSERT_EQ(host.written.size(), 3U);
  EXPECT_EQ(std::get<Suback>(host.written[1]).packet_id, 3);
  EXPECT_EQ(std::get<Unsuback>(host.written[2]).packet_id, 4);
  desired_patch(5, "{}");
  EXPECT_EQ(host.written.size(), 3U);  // the watch the device took back is not in force
}

TEST_F(MqttEngine, AMixedSubscribeIsOneSubackWithEachCodeInItsPlace) {
  connect();
  feed(Subscribe{8,
                 {{"devices/dev1/messages/devicebound/#", 1},
                  {"$iothub/twin/PATCH/properties/desired/#", 1},
                  {"$iothub/twin/res/#", 0},
                  {"sensors/x", 1},
                  {"$iothub/methods/POST/#", 2}}});
  EXPECT_EQ(host.downstream_calls, std::vector<bool>{true});  // C2D does not wait
  ASSERT_EQ(host.requests.size(), 2U);
  EXPECT_EQ((std::set<iotgw_op_kind>{host.requests[0].kind, host.requests[1].kind}),
            (std::set<iotgw_op_kind>{IOTGW_OP_TWIN_WATCH_DESIRED, IOTGW_OP_METHODS_ENABLE}));
  // Answers in the other order: still one SUBACK, once both are in.
  engine.on_operation_result(host.requests[1].token, {200, -1, {}, {}});
  EXPECT_EQ(host.written.size(), 1U);
  engine.on_operation_result(host.requests[0].token, {500, -1, {}, {}});
  EXPECT_EQ(last<Suback>().packet_id, 8);
  EXPECT_EQ(last<Suback>().codes,
            (std::vector<std::uint8_t>{1, kSubackFailure, 0, kSubackFailure, 1}));
}

TEST_F(MqttEngine, AMethodCallReachesTheDeviceAndItsAnswerGoesBack) {
  connect();
  feed(Subscribe{2, {{"$iothub/methods/POST/#", 1}}});
  EXPECT_EQ(host.requests.back().kind, IOTGW_OP_METHODS_ENABLE);
  EXPECT_EQ(host.written.size(), 1U);
  answer(200);
  EXPECT_EQ(last<Suback>().codes, std::vector<std::uint8_t>{1});
  call(42, "reboot", R"({"delay":1})");
  const auto& p = last<Publish>();
  EXPECT_EQ(p.topic, "$iothub/methods/POST/reboot/?$rid=2a");
  EXPECT_EQ(p.payload, R"({"delay":1})");
  EXPECT_EQ(p.qos, 0);
  feed(Publish{"$iothub/methods/res/200/?$rid=2a", R"({"done":true})", 1, false, false, 5});
  EXPECT_EQ(host.responses, (std::vector<Response>{{42, 200, R"({"done":true})"}}));
  EXPECT_EQ(last<Ack>().packet_id, 5);
  feed(Unsubscribe{3, {"$iothub/methods/POST/#"}});
  EXPECT_EQ(host.requests.back().kind, IOTGW_OP_METHODS_DISABLE);
}

TEST_F(MqttEngine, AnswersNoCallAwaitsAreIgnoredWithoutClosing) {
  connect_for_methods();
  call(42, "reboot", "{}");
  feed(Publish{"$iothub/methods/res/200/?$rid=2a", "{}", 0, false, false, 0});
  feed(Publish{"$iothub/methods/res/200/?$rid=2a", "{}", 0, false, false, 0});  // answered
  feed(Publish{"$iothub/methods/res/200/?$rid=2b", "{}", 0, false, false, 0});  // never called
  feed(Publish{"$iothub/methods/res/200/?$rid=02a", "{}", 0, false, false, 0});
  feed(Publish{"$iothub/methods/res/ok/?$rid=2a", "{}", 1, false, false, 6});  // not a status
  EXPECT_EQ(host.responses.size(), 1U);
  EXPECT_EQ(last<Ack>().packet_id, 6);
  EXPECT_TRUE(host.closed.empty());
}

TEST_F(MqttEngine, MethodCallsTheDeviceCannotTakeAreAnsweredForIt) {
  connect();
  call(1, "reboot", "{}");  // not subscribed
  feed(Subscribe{1, {{"$iothub/methods/POST/#", 0}}});
  answer(200);
  call(2, "a/b", "{}");  // no topic can carry that name
  ASSERT_EQ(host.responses.size(), 2U);
  EXPECT_EQ(host.responses[0].id, 1U);
  EXPECT_EQ(host.responses[0].status, 404);
  EXPECT_EQ(host.responses[1].id, 2U);
  EXPECT_EQ(host.responses[1].status, 400);
}

TEST_F(MqttEngine, UnansweredMethodCallsBeyondTheBoundForgetTheOldest) {
  EngineOptions options;
  options.max_operations = 2;
  Engine bounded(host, options);
  bounded.on_bytes(bytes_of(connect_as("dev1")));
  bounded.on_auth_result(host.next_token - 1, IOTGW_OK, "dev1", "");
  bounded.on_bytes(bytes_of(Subscribe{1, {{"$iothub/methods/POST/#", 0}}}));
  bounded.on_operation_result(host.requests.back().token, {200, -1, {}, {}});
  for (std::uint64_t id : {1, 2, 3}) {
    bounded.on_hub_request(HubRequest{IOTGW_HUB_METHOD_CALL, id, "m", "{}", -1});
  }
  for (const auto* rid : {"1", "2", "3"}) {
    bounded.on_bytes(bytes_of(
        Publish{std::string("$iothub/methods/res/200/?$rid=") + rid, "{}", 0, false, false, 0}));
  }
  EXPECT_EQ(host.responses, (std::vector<Response>{{2, 200, "{}"}, {3, 200, "{}"}}));
}

TEST_F(MqttEngine, DrainingWaitsForTwinAnswersToo) {
  connect_for_twin();
  feed(Publish{"$iothub/twin/GET/?$rid=1", "", 0, false, false, 0});
  engine.on_drain();
  EXPECT_TRUE(host.closed.empty());
  answer(200, "{}");
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/200/?$rid=1");
  EXPECT_EQ(host.closed, "the gateway is draining");
}

}  // namespace
}  // namespace iotgw::mqtt
