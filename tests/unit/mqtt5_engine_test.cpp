// The engine at MQTT 5, with no socket: what CONNACK advertises, each refusal's reason code,
// properties both ways, flow control (Receive Maximum, Maximum Packet Size, topic aliases),
// session expiry, the will, and the server's DISCONNECT reasons.
#include <gtest/gtest.h>

#include "codec/reason_codes.hpp"
#include "engine.hpp"
#include "mqtt_recording_host.hpp"

namespace iotgw::mqtt {
namespace {

using namespace testing_host;
constexpr auto kV5 = ProtocolLevel::v5;
const std::string kEvents = "devices/dev1/messages/events/";
const std::string kDevicebound = "devices/dev1/messages/devicebound/#";

Connect connect5(const std::string& device = "dev1") {
  auto c = connect_as(device);
  c.level = 5;
  return c;
}

Publish publish(std::string topic, std::uint16_t id, std::string payload = "x") {
  return Publish{std::move(topic),
                 std::move(payload),
                 static_cast<std::uint8_t>(id ? 1 : 0),
                 false,
                 false,
                 id,
                 {}};
}

class Mqtt5Engine : public testing::Test {
 protected:
  Mqtt5Engine() { host.level = kV5; }

  RecordingHost host;
  EngineOptions options;
  std::unique_ptr<Engine> engine;

  std::size_t feed(const Packet& p) { return engine->on_bytes(bytes_of(p, kV5)); }
  void connect(Connect c = connect5()) {
    engine = std::make_unique<Engine>(host, options);
    feed(c);
    engine->on_auth_result(host.next_token - 1, IOTGW_OK, c.client_id, "");
  }
  template <typename T>
  const T& last() {
    EXPECT_FALSE(host.written.empty());
    return std::get<T>(host.written.back());
  }
  std::uint8_t disconnect_reason() { return last<Disconnect>().reason; }
  void subscribe(std::uint8_t qos = 1) { feed(Subscribe{1, {{kDevicebound, qos}}, {}}); }
};

TEST_F(Mqtt5Engine, ConnackAdvertisesLimitsAndWhatIoTHubCannotHonour) {
  connect();
  const auto& ack = last<Connack>();
  EXPECT_EQ(ack.reason, reason::success);
  EXPECT_EQ(ack.props.receive_maximum, 16);
  EXPECT_EQ(ack.props.maximum_qos, 1);
  EXPECT_EQ(ack.props.retain_available, 0);
  EXPECT_EQ(ack.props.shared_available, 0);
  EXPECT_EQ(ack.props.subscription_ids_available, 0);
  EXPECT_EQ(ack.props.wildcard_available, 1);
  EXPECT_EQ(ack.props.topic_alias_maximum, 10);
  EXPECT_EQ(ack.props.maximum_packet_size, 256U * 1024 + 1024);
  EXPECT_FALSE(ack.props.server_keep_alive);  // the client's 10 s stands
  EXPECT_TRUE(engine->v5());
}

TEST_F(Mqtt5Engine, ServerKeepAliveAndSessionExpiryAreSaidWhenCut) {
  options.max_keep_alive = std::chrono::seconds(60);
  options.max_session_expiry = std::chrono::seconds(100);
  auto c = connect5();
  c.keep_alive = 0;
  c.props.session_expiry = 5000;
  connect(c);
  EXPECT_EQ(last<Connack>().props.server_keep_alive, 40);  // held to 1.5 x 40 s = the 60 s cap
  EXPECT_EQ(last<Connack>().props.session_expiry, 100U);
}

struct ConnectRefusal {
  const char* name;
  std::function<void(Connect&)> change;
  std::uint8_t code;
};

TEST_F(Mqtt5Engine, EachConnectRefusalHasItsReasonCode) {
  const std::vector<ConnectRefusal> cases = {
      {"auth method", [](Connect& c) { c.props.auth_method = "SCRAM-SHA-1"; },
       reason::bad_authentication_method},
      {"retained will",
       [](Connect& c) {
         c.will = Will{kEvents, "x", 0, true, {}};
       },
       reason::retain_not_supported},
      {"QoS 2 will",
       [](Connect& c) {
         c.will = Will{kEvents, "x", 2, false, {}};
       },
       reason::qos_not_supported},
      {"empty client id", [](Connect& c) { c.client_id.clear(); }, reason::client_id_not_valid},
      {"other device's user name",
       [](Connect& c) { c.username = "hub.azure-devices.net/dev2/?api-version=x"; },
       reason::not_authorized},
  };
  for (const auto& k : cases) {
    RecordingHost h;
    h.level = kV5;
    Engine e(h, EngineOptions{});
    auto c = connect5();
    k.change(c);
    e.on_bytes(bytes_of(c, kV5));
    ASSERT_FALSE(h.written.empty()) << k.name;
    const auto& ack = std::get<Connack>(h.written.back());
    EXPECT_EQ(ack.reason, k.code) << k.name;
    EXPECT_TRUE(ack.props.reason_string) << k.name;
    EXPECT_FALSE(h.closed.empty()) << k.name;
  }
  for (auto [status, code] : {std::pair{IOTGW_ERR_REFUSED, reason::bad_user_name_or_password},
                              std::pair{IOTGW_ERR_UNAVAILABLE, reason::server_unavailable},
                              std::pair{IOTGW_ERR_LIMIT, reason::quota_exceeded}}) {
    RecordingHost h;
    h.level = kV5;
    Engine e(h, EngineOptions{});
    e.on_bytes(bytes_of(connect5(), kV5));
    e.on_auth_result(h.next_token - 1, status, "", "no");
    EXPECT_EQ(std::get<Connack>(h.written.back()).reason, code);
  }
}

TEST_F(Mqtt5Engine, MessagePropertiesBecomeTheHubsProperties) {
  connect();
  auto p = publish(kEvents + "%24.mid=m1&bag=1", 3, "{\"t\":1}");
  p.props.user = {{"unit", "C"}, {"unit", "F"}};
  p.props.content_type = "application/json";
  p.props.correlation_data = "c-7";
  p.props.response_topic = "devices/dev1/replies";
  p.props.message_expiry = 60;
  p.props.payload_format = 1;
  feed(p);
  ASSERT_EQ(host.upstream.size(), 1U);
  const auto& m = host.upstream[0].first;
  EXPECT_EQ(m.body, "{\"t\":1}");
  const std::map<std::string, std::string> sys(m.props.system.begin(), m.props.system.end());
  EXPECT_EQ(sys.at("message-id"), "m1");
  EXPECT_EQ(sys.at("content-type"), "application/json");
  EXPECT_EQ(sys.at("correlation-id"), "c-7");
  EXPECT_EQ(sys.at("reply-to"), "devices/dev1/replies");
  EXPECT_EQ(sys.at("content-encoding"), "utf-8");
  EXPECT_EQ(sys.at("absolute-expiry-time").size(), 24U);  // 2026-12-01T00:00:00.000Z
  EXPECT_EQ(m.props.application,
            (std::vector<Property>{{"bag", "1"}, {"unit", "C"}, {"unit", "F"}}));
}

TEST_F(Mqtt5Engine, TheHubsRefusalIsAPubackWithItsReasonAndTheConnectionStays) {
  connect();
  const std::vector<std::pair<std::string, std::uint8_t>> refusals = {
      {"amqp:unauthorized-access: token expired", reason::not_authorized},
      {"amqp:resource-limit-exceeded: throttled", reason::quota_exceeded},
      {"stage 'door' rejected it", reason::implementation_specific},
  };
  std::uint16_t id = 1;
  for (const auto& [why, code] : refusals) {
    feed(publish(kEvents, id));
    engine->on_upstream_result(host.next_token - 1, IOTGW_REJECTED, why);
    const auto& ack = last<Ack>();
    EXPECT_EQ(ack.packet_id, id);
    EXPECT_EQ(ack.reason, code) << why;
    EXPECT_EQ(ack.props.reason_string, "not accepted upstream: " + why);
    ++id;
  }
  EXPECT_TRUE(host.closed.empty());
  // Released is not a refusal: the client must send it again, so it hears "server busy".
  feed(publish(kEvents, id));
  engine->on_upstream_result(host.next_token - 1, IOTGW_RELEASED, "hub gone");
  EXPECT_EQ(disconnect_reason(), reason::server_busy);
  EXPECT_FALSE(host.closed.empty());
}

TEST_F(Mqtt5Engine, RefusedTopicsArePubackedForQoS1AndDisconnectedForQoS0) {
  connect();
  feed(publish("devices/dev2/messages/events/", 4));
  EXPECT_EQ(last<Ack>().reason, reason::not_authorized);
  feed(publish("sensors/x", 5));
  EXPECT_EQ(last<Ack>().reason, reason::topic_name_invalid);
  auto bad_utf8 = publish(kEvents, 6, std::string("\xff", 1));
  bad_utf8.props.payload_format = 1;
  feed(bad_utf8);
  EXPECT_EQ(last<Ack>().reason, reason::payload_format_invalid);
  EXPECT_TRUE(host.upstream.empty());
  EXPECT_TRUE(host.closed.empty());
  feed(publish("sensors/x", 0));
  EXPECT_EQ(disconnect_reason(), reason::topic_name_invalid);
}

TEST_F(Mqtt5Engine, OverTheDevicesRateQoS1HearsQuotaExceededAndQoS0IsDropped) {
  connect();
  EXPECT_TRUE(host.refusing_over_rate);  // asked for at CONNECT: MQTT 5 can say why
  host.over_rate = true;
  feed(publish(kEvents, 7));
  EXPECT_EQ(last<Ack>().packet_id, 7);
  EXPECT_EQ(last<Ack>().reason, reason::quota_exceeded);
  const auto written = host.written.size();
  feed(publish(kEvents, 0));
  EXPECT_EQ(host.written.size(), written);  // at most once: nothing to say, and no disconnect
  EXPECT_TRUE(host.closed.empty());
  host.over_rate = false;
  feed(publish(kEvents, 8));
  engine->on_upstream_result(host.next_token - 1, IOTGW_ACCEPTED, "");
  EXPECT_EQ(last<Ack>().packet_id, 8);
  EXPECT_EQ(last<Ack>().reason, reason::success);
}

TEST_F(Mqtt5Engine, ReceiveMaximumReplacesPausingAndIsEnforced) {
  options.max_inflight = 2;
  connect();
  feed(publish(kEvents, 1));
  feed(publish(kEvents, 2));
  EXPECT_FALSE(host.paused);  // MQTT 5 clients keep to the Receive Maximum themselves
  feed(publish(kEvents, 3));
  EXPECT_EQ(disconnect_reason(), reason::receive_maximum_exceeded);
}

TEST_F(Mqtt5Engine, TopicAliasesInboundAreHeldAndChecked) {
  connect();
  auto first = publish(kEvents, 0, "a");
  first.props.topic_alias = 2;
  feed(first);
  auto again = publish("", 0, "b");
  again.props.topic_alias = 2;
  feed(again);
  ASSERT_EQ(host.upstream.size(), 2U);
  EXPECT_EQ(host.upstream[1].first.body, "b");
  auto unknown = publish("", 0);
  unknown.props.topic_alias = 3;
  feed(unknown);
  EXPECT_EQ(disconnect_reason(), reason::protocol_error);

  connect();
  auto out_of_range = publish(kEvents, 0);
  out_of_range.props.topic_alias = 11;
  feed(out_of_range);
  EXPECT_EQ(disconnect_reason(), reason::topic_alias_invalid);
}

TEST_F(Mqtt5Engine, RetainAndQoS2AreRefusedWithTheirCodes) {
  connect();
  auto retained = publish(kEvents, 0);
  retained.retain = true;
  feed(retained);
  EXPECT_EQ(disconnect_reason(), reason::retain_not_supported);
  connect();
  auto qos2 = publish(kEvents, 1);
  qos2.qos = 2;
  feed(qos2);
  EXPECT_EQ(disconnect_reason(), reason::qos_not_supported);
}

TEST_F(Mqtt5Engine, SubackSaysPerFilterWhyAndSubscriptionIdsAreRefused) {
  connect();
  feed(Subscribe{
      7,
      {{kDevicebound, 1}, {"$share/g/devices/dev1/x", 1}, {"sensors/#", 0}, {kDevicebound, 2}},
      {}});
  EXPECT_EQ(last<Suback>().codes,
            (std::vector<std::uint8_t>{1, reason::shared_subscriptions_not_supported,
                                       reason::not_authorized, 1}));
  feed(Unsubscribe{8, {kDevicebound, "never/subscribed"}, {}});
  EXPECT_EQ(last<Unsuback>().codes,
            (std::vector<std::uint8_t>{reason::success, reason::no_subscription_existed}));
  Subscribe with_id{9, {{kDevicebound, 1}}, {}};
  with_id.props.subscription_ids = {4};
  feed(with_id);
  EXPECT_EQ(disconnect_reason(), reason::subscription_ids_not_supported);
}

TEST_F(Mqtt5Engine, C2dPropertiesGoAsMqtt5PropertiesAndAliases) {
  auto c = connect5();
  c.props.topic_alias_maximum = 2;
  connect(c);
  subscribe();
  MessageData m{"on",
                {{{"message-id", "c1"},
                  {"content-type", "text/plain"},
                  {"correlation-id", "k9"},
                  {"content-encoding", "utf-8"},
                  {"reply-to", "back/here"}},
                 {{"colour", "red"}}}};
  engine->on_downstream(m, 40);
  const auto first = last<Publish>();
  EXPECT_EQ(first.topic, "devices/dev1/messages/devicebound/%24.mid=c1");
  EXPECT_EQ(first.props.topic_alias, 1);
  EXPECT_EQ(first.props.user,
            (std::vector<std::pair<std::string, std::string>>{{"colour", "red"}}));
  EXPECT_EQ(first.props.content_type, "text/plain");
  EXPECT_EQ(first.props.correlation_data, "k9");
  EXPECT_EQ(first.props.response_topic, "back/here");
  EXPECT_EQ(first.props.payload_format, 1);
  feed(Ack{PacketType::puback, first.packet_id, 0, {}});
  engine->on_downstream(m, 41);
  EXPECT_EQ(last<Publish>().topic, "");  // the alias stands for it now
  EXPECT_EQ(last<Publish>().props.topic_alias, 1);
}

TEST_F(Mqtt5Engine, TheClientsReceiveMaximumHoldsC2dBack) {
  auto c = connect5();
  c.props.receive_maximum = 1;
  connect(c);
  subscribe();
  engine->on_downstream(MessageData{"one", {}}, 50);
  engine->on_downstream(MessageData{"two", {}}, 51);
  const auto sent = host.written.size();
  EXPECT_EQ(last<Publish>().payload, "one");
  feed(Ack{PacketType::puback, last<Publish>().packet_id, 0, {}});
  EXPECT_EQ(host.written.size(), sent + 1);
  EXPECT_EQ(last<Publish>().payload, "two");
  // What still waits when the connection ends goes back to the hub.
  engine->on_downstream(MessageData{"three", {}}, 52);
  engine->on_downstream(MessageData{"four", {}}, 53);
  engine->on_closed();
  EXPECT_EQ(host.settled.back(), std::make_pair(std::uint64_t{53}, IOTGW_RELEASED));
}

TEST_F(Mqtt5Engine, ADeviceRefusingC2dOrTooSmallForItRejectsIt) {
  auto c = connect5();
  c.props.maximum_packet_size = 100;
  connect(c);
  subscribe();
  const auto before = host.written.size();
  engine->on_downstream(MessageData{std::string(200, 'x'), {}}, 60);
  EXPECT_EQ(host.written.size(), before);
  EXPECT_EQ(host.settled.back(), std::make_pair(std::uint64_t{60}, IOTGW_REJECTED));
  EXPECT_NE(host.settle_reasons.back().find("Maximum Packet Size of 100"), std::string::npos);
  engine->on_downstream(MessageData{"small", {}}, 61);
  Ack refused{PacketType::puback, last<Publish>().packet_id, 0x80, {}};
  refused.props.reason_string = "cannot do that";
  feed(refused);
  EXPECT_EQ(host.settled.back(), std::make_pair(std::uint64_t{61}, IOTGW_REJECTED));
  EXPECT_EQ(host.settle_reasons.back(), "the device answered 128: cannot do that");
}

TEST_F(Mqtt5Engine, NothingOverTheClientsMaximumPacketSizeIsSent) {
  auto c = connect5();
  c.props.maximum_packet_size = 64;
  connect(c);
  feed(Subscribe{2, {{"$iothub/twin/res/#", 0}}, {}});
  feed(publish("$iothub/twin/GET/?$rid=7", 0, ""));
  const auto before = host.written.size();
  engine->on_operation_result(host.requests.back().token,
                              OperationResult{200, -1, std::string(100, ' '), {}});
  EXPECT_EQ(host.written.size(), before);
  EXPECT_NE(host.warnings.back().find("over the device's Maximum Packet Size of 64"),
            std::string::npos);
}

TEST_F(Mqtt5Engine, GrantedQoS0C2dGoesAtQoS0AndIsSettledWhenWritten) {
  connect();
  subscribe(0);
  engine->on_downstream(MessageData{"fire and forget", {}}, 70);
  EXPECT_EQ(last<Publish>().qos, 0);
  EXPECT_EQ(host.settled.back(), std::make_pair(std::uint64_t{70}, IOTGW_ACCEPTED));
}

TEST_F(Mqtt5Engine, TheSessionLivesAsLongAsItsExpiryInterval) {
  auto c = connect5();
  c.props.session_expiry = 300;
  connect(c);
  subscribe();
  engine->on_closed();
  ASSERT_EQ(host.sessions.count("dev1"), 1U);
  EXPECT_EQ(host.expiries["dev1"], std::chrono::seconds(300));
  c.clean_session = false;
  connect(c);
  EXPECT_TRUE(last<Connack>().session_present);
  engine->on_downstream(MessageData{"kept", {}}, 80);
  EXPECT_EQ(last<Publish>().payload, "kept");  // the stored filter still takes C2D

  // Without an expiry the session ends with the connection, and a DISCONNECT may not add one.
  host.sessions.clear();
  connect();
  Disconnect d;
  d.props.session_expiry = 60;
  feed(d);
  EXPECT_EQ(disconnect_reason(), reason::protocol_error);
  engine->on_closed();
  EXPECT_TRUE(host.sessions.empty());
}

TEST_F(Mqtt5Engine, DisconnectWithWillSendsItAndItsProperties) {
  auto c = connect5();
  Will w{kEvents, "bye", 0, false, {}};
  w.props.content_type = "text/plain";
  w.props.user = {{"why", "battery"}};
  c.will = w;
  connect(c);
  feed(Disconnect{reason::disconnect_with_will, {}});
  engine->on_closed();
  ASSERT_EQ(host.upstream.size(), 1U);
  const auto& m = host.upstream[0].first;
  EXPECT_EQ(m.body, "bye");
  EXPECT_EQ(m.props.system, (std::vector<Property>{{"content-type", "text/plain"}}));
  EXPECT_EQ(m.props.application[0], (Property{"why", "battery"}));
}

TEST_F(Mqtt5Engine, TheServerSaysWhyItEndsAConnection) {
  connect();
  host.clock += std::chrono::seconds(20);
  engine->on_timer(Timer::keep_alive);
  EXPECT_EQ(disconnect_reason(), reason::keep_alive_timeout);

  connect();
  engine->on_drain();
  EXPECT_EQ(disconnect_reason(), reason::server_shutting_down);

  options.server_reference = "gw2.example:8883";
  connect();
  engine->on_drain();
  EXPECT_EQ(disconnect_reason(), reason::use_another_server);
  EXPECT_EQ(last<Disconnect>().props.server_reference, "gw2.example:8883");

  connect();
  engine->on_closing(true, "a newer connection for dev1 took over");
  EXPECT_EQ(disconnect_reason(), reason::session_taken_over);

  connect();
  feed(Bare{PacketType::pingresp});
  EXPECT_EQ(disconnect_reason(), reason::protocol_error);
}

TEST_F(Mqtt5Engine, MalformedAndOversizedPacketsAreDisconnectedWithTheirCodes) {
  options.max_packet = 200;
  connect();
  engine->on_bytes(std::vector<std::uint8_t>{0x30, 0x05, 0, 1, 't', 1, 0x7F});
  EXPECT_EQ(disconnect_reason(), reason::malformed_packet);
  connect();
  engine->on_bytes(std::vector<std::uint8_t>{0x30, 8, 0, 1, 't', 4, 0x23, 0, 1, 0x23});
  EXPECT_EQ(disconnect_reason(), reason::protocol_error);
  connect();
  feed(publish(kEvents, 0, std::string(300, 'x')));
  EXPECT_EQ(disconnect_reason(), reason::packet_too_large);
}

TEST_F(Mqtt5Engine, NoProblemInformationMeansNoReasonStringsOnAcks) {
  auto c = connect5();
  c.props.request_problem_info = 0;
  connect(c);
  feed(publish("sensors/x", 4));
  EXPECT_EQ(last<Ack>().reason, reason::topic_name_invalid);
  EXPECT_FALSE(last<Ack>().props.reason_string);
}

TEST_F(Mqtt5Engine, TwinTopicsWorkAsOverMqtt311) {
  connect();
  feed(Subscribe{2, {{"$iothub/twin/res/#", 0}}, {}});
  feed(publish("$iothub/twin/GET/?$rid=7", 0, ""));
  ASSERT_FALSE(host.requests.empty());
  EXPECT_EQ(host.requests.back().kind, IOTGW_OP_TWIN_GET);
  engine->on_operation_result(host.requests.back().token,
                              OperationResult{200, -1, R"({"desired":{}})", {}});
  EXPECT_EQ(last<Publish>().topic, "$iothub/twin/res/200/?$rid=7");
}

}  // namespace
}  // namespace iotgw::mqtt
