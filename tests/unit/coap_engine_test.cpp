// The CoAP engine with no socket and no host process: datagrams in on a fake clock, and what it
// writes and asks of its host out. Every response code the adapter gives is checked here.
#include <gtest/gtest.h>

#include "coap_recording_host.hpp"
#include "engine.hpp"

namespace iotgw::coap {
namespace {

using namespace testing_host;
using namespace std::chrono_literals;

struct Request {
  Type type = Type::con;
  Code code = code::post;
  std::uint16_t id = 1;
  std::string token = "tk";
  std::string path = "telemetry";
  std::vector<std::string> query = {};
  std::string payload = {};
  std::vector<Option> options = {};
};

Message message_of(const Request& r) {
  Message m;
  m.type = r.type;
  m.code = r.code;
  m.id = r.id;
  m.token = r.token;
  m.options = r.options;
  if (!r.path.empty()) m.add(option::uri_path, r.path);
  for (const auto& q : r.query) m.add(option::uri_query, q);
  m.payload = r.payload;
  return m;
}

Option uint_option(std::uint16_t number, std::uint32_t value) {
  return {number, encode_uint(value)};
}

Option block_option(std::uint16_t number, Block b) {
  return uint_option(number, encode_block(b));
}

std::optional<std::uint32_t> uint_of(const Message& m, std::uint16_t number) {
  const auto* o = m.find(number);
  if (o == nullptr) return std::nullopt;
  return decode_uint(o->value);
}

std::optional<Block> block_of(const Message& m, std::uint16_t number) {
  const auto* o = m.find(number);
  if (o == nullptr) return std::nullopt;
  return decode_block(o->value);
}

EngineOptions test_options() {
  EngineOptions o;
  o.random = [] { return 0.0; };  // ACK_TIMEOUT exactly, unless a test says otherwise
  return o;
}

class CoapEngine : public testing::Test {
 protected:
  RecordingHost host;
  Time now{std::chrono::hours(1)};
  std::unique_ptr<Engine> engine = std::make_unique<Engine>(host, test_options());

  void make(EngineOptions options) { engine = std::make_unique<Engine>(host, std::move(options)); }
  void feed(const Message& m) {
    std::vector<std::uint8_t> bytes;
    encode(m, bytes);
    engine->on_datagram(bytes, now);
  }
  void feed(const Request& r) { feed(message_of(r)); }
  void feed_raw(std::vector<std::uint8_t> bytes) { engine->on_datagram(bytes, now); }
  void advance(std::chrono::milliseconds by) {
    now += by;
    host.timer.reset();  // the host's timer fired (or would have): it is spent
    engine->on_timer(now);
  }
  const Message& last() {
    EXPECT_FALSE(host.written.empty());
    return host.written.back();
  }
  void auth_ok(const std::string& device = "dev1") {
    engine->on_auth_result(host.next_token - 1, IOTGW_OK, device, "", now);
  }
  void accept_last() { engine->on_upstream_result(host.next_token - 1, IOTGW_ACCEPTED, "", now); }
  // Logged in as dev1 by a first telemetry message, answered.
  void login() {
    feed(Request{.id = 500, .query = {"d=dev1", "p=sas"}, .payload = "hello"});
    auth_ok();
    accept_last();
    host.written.clear();
    host.raw.clear();
    host.upstream.clear();
  }
  // Observing /c2d with token "ob".
  void observe() {
    login();
    feed(Request{.code = code::get,
                 .id = 600,
                 .token = "ob",
                 .path = "c2d",
                 .options = {uint_option(option::observe, 0)}});
    host.written.clear();
  }
  void ack(std::uint16_t id) {
    Message a;
    a.type = Type::ack;
    a.id = id;
    feed(a);
  }
  void rst(std::uint16_t id) {
    Message a;
    a.type = Type::rst;
    a.id = id;
    feed(a);
  }
};

// --- identity ---------------------------------------------------------------------------------

TEST_F(CoapEngine, ARequestWithNoIdentityOnUdpIsUnauthorized) {
  feed(Request{.id = 7, .payload = "x"});
  EXPECT_EQ(last().type, Type::ack);
  EXPECT_EQ(last().id, 7);
  EXPECT_EQ(last().token, "tk");
  EXPECT_EQ(last().code, code::unauthorized);
  EXPECT_TRUE(host.auths.empty());
  EXPECT_TRUE(host.upstream.empty());
}

TEST_F(CoapEngine, DAndPLogInThenTelemetryGoesUpAtLeastOnceAndIsAnsweredOnlyWhenAccepted) {
  feed(Request{.id = 9,
               .query = {"d=dev1", "p=SharedAccessSignature sr=x", "site=north", "flag"},
               .payload = R"({"t":21})",
               .options = {uint_option(option::content_format, 50)}});
  ASSERT_EQ(host.auths.size(), 1U);
  EXPECT_EQ(host.auths[0].client_id, "dev1");
  EXPECT_EQ(host.auths[0].username, "dev1");
  EXPECT_EQ(host.auths[0].password, "SharedAccessSignature sr=x");
  EXPECT_TRUE(host.upstream.empty());  // not before the login is answered
  EXPECT_EQ(engine->auth_state(), AuthState::pending);
  auth_ok();
  EXPECT_EQ(engine->auth_state(), AuthState::done);
  EXPECT_EQ(engine->device_id(), "dev1");
  ASSERT_EQ(host.upstream.size(), 1U);
  const auto& [up, at_least_once] = host.upstream[0];
  EXPECT_TRUE(at_least_once);
  EXPECT_EQ(up.body, R"({"t":21})");
  using Props = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(up.system, (Props{{"content-type", "application/json"}}));
  EXPECT_EQ(up.application, (Props{{"site", "north"}, {"flag", ""}}));
  EXPECT_TRUE(host.written.empty());  // 2.04 waits for the hub
  accept_last();
  EXPECT_EQ(last().type, Type::ack);
  EXPECT_EQ(last().id, 9);
  EXPECT_EQ(last().code, code::changed);
  EXPECT_EQ(last().token, "tk");
}

TEST_F(CoapEngine, ARefusedLoginIsUnauthorizedAndTheNextRequestTriesAgain) {
  feed(Request{.id = 1, .query = {"d=dev1", "p=bad"}});
  engine->on_auth_result(host.next_token - 1, IOTGW_ERR_REFUSED, "", "bad token", now);
  EXPECT_EQ(last().code, code::unauthorized);
  EXPECT_EQ(engine->auth_state(), AuthState::none);
  EXPECT_EQ(host.warnings.size(), 1U);
  feed(Request{.id = 2});
  EXPECT_EQ(last().code, code::unauthorized);
  feed(Request{.id = 3, .query = {"d=dev1", "p=good"}});
  EXPECT_EQ(host.auths.size(), 2U);
}

TEST_F(CoapEngine, ALoginTheHubCannotAnswerIsServiceUnavailableWithMaxAge) {
  feed(Request{.id = 1, .query = {"d=dev1", "p=x"}});
  engine->on_auth_result(host.next_token - 1, IOTGW_ERR_UNAVAILABLE, "", "hub down", now);
  EXPECT_EQ(last().code, code::service_unavailable);
  EXPECT_EQ(uint_of(last(), option::max_age), 5U);
  host.refuse_auth = true;
  feed(Request{.id = 2, .query = {"d=dev1", "p=x"}});
  EXPECT_EQ(last().code, code::service_unavailable);
}

TEST_F(CoapEngine, RequestsDuringTheLoginWaitForItAndNeedNoIdentityAfter) {
  feed(Request{.id = 1, .token = "a", .query = {"d=dev1", "p=x"}, .payload = "1"});
  feed(Request{.id = 2, .token = "b", .payload = "2"});
  auth_ok();
  ASSERT_EQ(host.upstream.size(), 2U);
  EXPECT_EQ(host.upstream[0].first.body, "1");
  EXPECT_EQ(host.upstream[1].first.body, "2");
  feed(Request{.id = 3, .token = "c", .payload = "3"});
  EXPECT_EQ(host.upstream.size(), 3U);
  EXPECT_EQ(host.auths.size(), 1U);  // once per peer
}

TEST_F(CoapEngine, ItsOwnDeviceIdAgainIsFine) {
  login();
  feed(Request{.id = 3, .query = {"d=dev1"}});
  EXPECT_EQ(host.upstream.size(), 1U);
  EXPECT_FALSE(host.closed);
}

// A NAT's new mapping may give another device a logged-in peer's address: the session ends
// unanswered, so the device's retransmission opens a session of its own instead of a 4.03.
TEST_F(CoapEngine, AnotherDeviceOnALoggedInPeerEndsTheSession) {
  login();
  const auto written = host.written.size();
  feed(Request{.id = 2, .query = {"d=dev2", "p=x"}});
  ASSERT_TRUE(host.closed);
  EXPECT_NE(host.closed->find("dev2"), std::string::npos);
  EXPECT_EQ(host.written.size(), written);      // no answer
  feed(Request{.id = 3, .query = {"d=dev1"}});  // nothing after the close
  EXPECT_EQ(host.written.size(), written);
  EXPECT_TRUE(host.upstream.empty() || host.upstream.size() == 1U);
}

TEST_F(CoapEngine, OnDtlsTheTransportIdentityIsEnoughAndTheCredentialsAreEmpty) {
  auto options = test_options();
  options.secure_transport = true;
  make(options);
  feed(Request{.id = 1, .payload = "x"});
  ASSERT_EQ(host.auths.size(), 1U);
  EXPECT_EQ(host.auths[0].client_id, "");
  EXPECT_EQ(host.auths[0].password, "");
  auth_ok("psk-dev");
  EXPECT_EQ(engine->device_id(), "psk-dev");
  EXPECT_EQ(host.upstream.size(), 1U);
}

// --- messaging: dedup, piggybacked and separate answers, retransmission ----------------------

TEST_F(CoapEngine, ADuplicateConGetsTheCachedAnswerAndGoesUpOnce) {
  login();
  feed(Request{.id = 42, .payload = "x"});
  accept_last();
  ASSERT_EQ(host.raw.size(), 1U);
  feed(Request{.id = 42, .payload = "x"});
  EXPECT_EQ(host.upstream.size(), 1U);
  ASSERT_EQ(host.raw.size(), 2U);
  EXPECT_EQ(host.raw[1], host.raw[0]);
}

TEST_F(CoapEngine, ADuplicateInProgressGetsNothingThenTheEmptyAckOnceSent) {
  login();
  feed(Request{.id = 42, .payload = "x"});
  feed(Request{.id = 42, .payload = "x"});
  EXPECT_TRUE(host.written.empty());
  EXPECT_EQ(host.upstream.size(), 1U);
  advance(1s);  // piggyback_timeout
  ASSERT_EQ(host.written.size(), 1U);
  EXPECT_EQ(last().type, Type::ack);
  EXPECT_TRUE(last().code.empty());
  feed(Request{.id = 42, .payload = "x"});
  ASSERT_EQ(host.written.size(), 2U);
  EXPECT_TRUE(last().code.empty());
  EXPECT_EQ(last().id, 42);
}

TEST_F(CoapEngine, DedupForgetsAfterExchangeLifetimeAndBeyondItsCapacity) {
  auto options = test_options();
  options.dedup_entries = 2;
  make(options);
  login();  // id 500
  feed(Request{.id = 1, .payload = "a"});
  feed(Request{.id = 2, .payload = "b"});
  feed(Request{.id = 500, .payload = "again"});  // forgotten: the cache holds 2
  EXPECT_EQ(host.upstream.size(), 3U);
  feed(Request{.id = 2, .payload = "b"});
  EXPECT_EQ(host.upstream.size(), 3U);
  now += 247s;
  feed(Request{.id = 2, .payload = "b"});
  EXPECT_EQ(host.upstream.size(), 4U);
}

TEST_F(CoapEngine, ASlowHubGetsAnEmptyAckThenTheAnswerAsASeparateCon) {
  login();
  feed(Request{.id = 42, .token = "slow", .payload = "x"});
  EXPECT_EQ(host.timer, 1000ms);
  advance(1s);
  ASSERT_EQ(host.written.size(), 1U);
  EXPECT_EQ(last().type, Type::ack);
  EXPECT_TRUE(last().code.empty());
  accept_last();
  ASSERT_EQ(host.written.size(), 2U);
  const auto separate = last();
  EXPECT_EQ(separate.type, Type::con);
  EXPECT_EQ(separate.code, code::changed);
  EXPECT_EQ(separate.token, "slow");
  EXPECT_NE(separate.id, 42);
  EXPECT_EQ(host.timer, 2000ms);  // its retransmission
  ack(separate.id);
  EXPECT_FALSE(host.timer);
  advance(10s);
  EXPECT_EQ(host.written.size(), 2U);  // not sent again
}

TEST_F(CoapEngine, RetransmissionsBackOff2_4_8_16SecondsThenGiveUp) {
  login();
  feed(Request{.id = 42, .payload = "x"});
  advance(1s);
  accept_last();
  const auto id = last().id;
  const auto sends = [&] {
    return std::count_if(host.written.begin(), host.written.end(),
                         [id](const Message& m) { return m.id == id; });
  };
  EXPECT_EQ(sends(), 1);
  for (const auto wait : {2s, 4s, 8s, 16s}) {
    EXPECT_EQ(host.timer, std::chrono::milliseconds(wait));
    advance(wait - 1ms);
    const auto before = sends();
    advance(1ms);
    EXPECT_EQ(sends(), before + 1);
  }
  EXPECT_EQ(host.timer, 32000ms);
  advance(32s);
  EXPECT_EQ(sends(), 5);  // the first and MAX_RETRANSMIT 4
  EXPECT_FALSE(host.timer);
}

TEST_F(CoapEngine, TheFirstTimeoutIsScaledByTheRandomFactor) {
  auto options = test_options();
  options.random = [] { return 0.5; };
  make(options);
  login();
  feed(Request{.id = 42, .payload = "x"});
  advance(1s);
  accept_last();
  EXPECT_EQ(host.timer, 2500ms);  // 2 s x (1 + 0.5 x (1.5 - 1))
  advance(2500ms);
  EXPECT_EQ(host.timer, 5000ms);
}

TEST_F(CoapEngine, OurConsBeyondMaxOutstandingWaitForAnAck) {
  auto options = test_options();
  options.max_outstanding = 1;
  make(options);
  login();
  feed(Request{.id = 1, .payload = "a"});
  feed(Request{.id = 2, .payload = "b"});
  advance(1s);
  engine->on_upstream_result(host.next_token - 2, IOTGW_ACCEPTED, "", now);
  engine->on_upstream_result(host.next_token - 1, IOTGW_ACCEPTED, "", now);
  const auto cons = [&] {
    return std::count_if(host.written.begin(), host.written.end(),
                         [](const Message& m) { return m.type == Type::con; });
  };
  EXPECT_EQ(cons(), 1);
  ack(last().id);
  EXPECT_EQ(cons(), 2);
}

TEST_F(CoapEngine, NonTelemetryGoesUpAtMostOnceAndIsAnsweredWithANon) {
  login();
  feed(Request{.type = Type::non, .id = 8, .token = "n", .payload = "x"});
  ASSERT_EQ(host.upstream.size(), 1U);
  EXPECT_FALSE(host.upstream[0].second);
  EXPECT_EQ(last().type, Type::non);
  EXPECT_EQ(last().code, code::changed);
  EXPECT_EQ(last().token, "n");
}

TEST_F(CoapEngine, NoResponseSilencesTheAnswersAskedAway) {
  login();
  feed(Request{
      .type = Type::non, .id = 8, .payload = "x", .options = {uint_option(no_response_option, 2)}});
  EXPECT_EQ(host.upstream.size(), 1U);
  EXPECT_TRUE(host.written.empty());
  // A CON still gets its ACK, empty.
  feed(Request{.id = 9, .payload = "x", .options = {uint_option(no_response_option, 2)}});
  accept_last();
  EXPECT_EQ(last().type, Type::ack);
  EXPECT_TRUE(last().code.empty());
}

// A draining host ends the session when the engine is idle: never while the login, the hub or
// the peer's ACK to one of our CONs is still awaited.
TEST_F(CoapEngine, IdleOnlyWhenNoRequestAndNoConfirmableMessageAwaitsAnAnswer) {
  EXPECT_TRUE(engine->idle());
  feed(Request{.id = 9, .query = {"d=dev1", "p=sas"}, .payload = "x"});
  EXPECT_FALSE(engine->idle()) << "the login is awaited";
  auth_ok();
  EXPECT_FALSE(engine->idle()) << "the hub's answer is awaited";
  accept_last();
  EXPECT_TRUE(engine->idle());
  feed(Request{.code = code::get,
               .id = 10,
               .token = "ob",
               .path = "c2d",
               .options = {uint_option(option::observe, 0)}});
  EXPECT_TRUE(engine->idle()) << "an observation alone awaits nothing";
  engine->on_downstream({"one", ""}, 11, now);
  EXPECT_FALSE(engine->idle()) << "the notification's ACK is awaited";
  ack(last().id);
  EXPECT_TRUE(engine->idle());
}

// --- what the hub says -------------------------------------------------------------------------

TEST_F(CoapEngine, TheHubsRefusalsBecomeClientAndServerErrors) {
  login();
  const auto answer_for = [&](iotgw_outcome outcome, const std::string& reason) {
    static std::uint16_t id = 100;
    feed(Request{.id = ++id, .payload = "x"});
    engine->on_upstream_result(host.next_token - 1, outcome, reason, now);
    return last();
  };
  EXPECT_EQ(answer_for(IOTGW_REJECTED, "amqp:invalid-field").code, code::bad_request);
  EXPECT_EQ(answer_for(IOTGW_REJECTED, "amqp:unauthorized-access").code, code::forbidden);
  EXPECT_EQ(answer_for(IOTGW_REJECTED, "amqp:resource-limit-exceeded").code,
            code::too_many_requests);
  EXPECT_EQ(answer_for(IOTGW_REJECTED, "amqp:link:message-size-exceeded").code,
            code::request_entity_too_large);
  const auto released = answer_for(IOTGW_RELEASED, "hub restarting");
  EXPECT_EQ(released.code, code::service_unavailable);
  EXPECT_EQ(uint_of(released, option::max_age), 5U);
  EXPECT_EQ(answer_for(IOTGW_MODIFIED, "").code, code::service_unavailable);
  EXPECT_EQ(released.payload.substr(0, 25), "the hub did not take it: ");
}

TEST_F(CoapEngine, AMessageTheHostCannotTakeIsServiceUnavailable) {
  login();
  host.refuse_upstream = true;
  feed(Request{.id = 2, .payload = "x"});
  EXPECT_EQ(last().code, code::service_unavailable);
}

// --- requests refused -------------------------------------------------------------------------

TEST_F(CoapEngine, UnknownPathWrongMethodAndUnknownCriticalOptionAreRefused) {
  login();
  feed(Request{.id = 2, .path = "nope"});
  EXPECT_EQ(last().code, code::not_found);
  feed(Request{.code = code::put, .id = 3});
  EXPECT_EQ(last().code, code::method_not_allowed);
  feed(Request{.code = code::post, .id = 4, .path = "c2d"});
  EXPECT_EQ(last().code, code::method_not_allowed);
  feed(Request{.id = 5, .options = {Option{option::if_match, "x"}}});
  EXPECT_EQ(last().code, code::bad_option);
  feed(Request{.id = 6, .options = {Option{option::size2, "x"}}});  // elective: ignored
  EXPECT_EQ(host.upstream.size(), 1U);
  EXPECT_TRUE(host.debugs.size() > 0);
}

TEST_F(CoapEngine, APayloadOverMaxReassemblyIsTooLargeWithSize1) {
  auto options = test_options();
  options.max_reassembly = 32;
  make(options);
  login();
  feed(Request{.id = 2, .payload = std::string(33, 'x')});
  EXPECT_EQ(last().code, code::request_entity_too_large);
  EXPECT_EQ(uint_of(last(), option::size1), 32U);
}

TEST_F(CoapEngine, MalformedConGetsRstOtherMalformedOrForeignDatagramsNothing) {
  // Token length 9 in a CON, id 0x1234.
  feed_raw({0x49, 0x02, 0x12, 0x34, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  ASSERT_EQ(host.written.size(), 1U);
  EXPECT_EQ(last().type, Type::rst);
  EXPECT_EQ(last().id, 0x1234);
  feed_raw({0x59, 0x02, 0x12, 0x35, 1, 2, 3, 4, 5, 6, 7, 8, 9});  // the same as NON
  feed_raw({0x80, 0x02, 0x12, 0x36});                             // version 2
  feed_raw({0x40});                                               // too short
  EXPECT_EQ(host.written.size(), 1U);
}

TEST_F(CoapEngine, AnEmptyConIsAPingAnsweredWithRst) {
  Message ping;
  ping.type = Type::con;
  ping.id = 77;
  feed(ping);
  EXPECT_EQ(last().type, Type::rst);
  EXPECT_EQ(last().id, 77);
}

TEST_F(CoapEngine, RequestsBeyondMaxPendingAreTooManyRequests) {
  auto options = test_options();
  options.max_pending_requests = 2;
  make(options);
  login();
  feed(Request{.id = 1, .payload = "a"});
  feed(Request{.id = 2, .payload = "b"});
  feed(Request{.id = 3, .payload = "c"});
  EXPECT_EQ(last().code, code::too_many_requests);
  EXPECT_EQ(uint_of(last(), option::max_age), 5U);
  EXPECT_EQ(host.upstream.size(), 2U);
}

// --- Block1 -----------------------------------------------------------------------------------

TEST_F(CoapEngine, Block1BlocksAreContinuedThenGoUpAsOneBody) {
  login();
  const std::string a(16, 'a'), b(16, 'b'), c = "end";
  feed(Request{.id = 1, .payload = a, .options = {block_option(option::block1, {0, true, 0})}});
  EXPECT_EQ(last().code, code::continue_);
  EXPECT_EQ(encode_block(*block_of(last(), option::block1)), encode_block({0, true, 0}));
  feed(Request{.id = 2, .payload = b, .options = {block_option(option::block1, {1, true, 0})}});
  EXPECT_EQ(last().code, code::continue_);
  EXPECT_TRUE(host.upstream.empty());
  feed(Request{.id = 3, .payload = c, .options = {block_option(option::block1, {2, false, 0})}});
  ASSERT_EQ(host.upstream.size(), 1U);
  EXPECT_EQ(host.upstream[0].first.body, a + b + c);
  accept_last();
  EXPECT_EQ(last().code, code::changed);
  EXPECT_EQ(last().id, 3);
  EXPECT_EQ(encode_block(*block_of(last(), option::block1)), encode_block({2, false, 0}));
}

TEST_F(CoapEngine, Block1AskedLargerThanBlockSizeIsContinuedAtOurSize) {
  auto options = test_options();
  options.block_size = 256;
  make(options);
  login();
  feed(Request{.id = 1,
               .payload = std::string(1024, 'a'),
               .options = {block_option(option::block1, {0, true, 6})}});
  EXPECT_EQ(block_of(last(), option::block1)->szx, 4);
  // The client goes on at 256 bytes: block 4 is at offset 1024.
  feed(Request{.id = 2, .payload = "z", .options = {block_option(option::block1, {4, false, 4})}});
  ASSERT_EQ(host.upstream.size(), 1U);
  EXPECT_EQ(host.upstream[0].first.body.size(), 1025U);
}

TEST_F(CoapEngine, Block1OutOfOrderIsRequestEntityIncomplete) {
  login();
  feed(Request{.id = 1,
               .payload = std::string(16, 'a'),
               .options = {block_option(option::block1, {0, true, 0})}});
  feed(Request{.id = 2,
               .payload = std::string(16, 'c'),
               .options = {block_option(option::block1, {2, true, 0})}});
  EXPECT_EQ(last().code, code::request_entity_incomplete);
  feed(Request{.id = 3,
               .payload = std::string(16, 'b'),
               .options = {block_option(option::block1, {1, true, 0})}});
  EXPECT_EQ(last().code, code::request_entity_incomplete);  // the body was dropped
  feed(Request{.id = 4,
               .payload = std::string(5, 'b'),
               .options = {block_option(option::block1, {1, false, 0})}});
  EXPECT_EQ(last().code, code::request_entity_incomplete);
  feed(Request{.id = 5,  // a middle block short of its size
               .payload = std::string(16, 'a'),
               .options = {block_option(option::block1, {0, true, 0})}});
  feed(Request{.id = 6,
               .payload = std::string(3, 'b'),
               .options = {block_option(option::block1, {1, true, 0})}});
  EXPECT_EQ(last().code, code::request_entity_incomplete);
  EXPECT_TRUE(host.upstream.empty());
}

TEST_F(CoapEngine, Block1OverMaxReassemblyIsTooLargeWithSize1) {
  auto options = test_options();
  options.max_reassembly = 40;
  make(options);
  login();
  feed(Request{.id = 1,
               .payload = std::string(32, 'a'),
               .options = {block_option(option::block1, {0, true, 1})}});
  EXPECT_EQ(last().code, code::continue_);
  feed(Request{.id = 2,
               .payload = std::string(32, 'a'),
               .options = {block_option(option::block1, {1, true, 1})}});
  EXPECT_EQ(last().code, code::request_entity_too_large);
  EXPECT_EQ(uint_of(last(), option::size1), 40U);
  // Said up front with Size1: refused at block 0.
  feed(Request{
      .id = 3,
      .payload = std::string(32, 'a'),
      .options = {block_option(option::block1, {0, true, 1}), uint_option(option::size1, 1000)}});
  EXPECT_EQ(last().code, code::request_entity_too_large);
  EXPECT_TRUE(host.upstream.empty());
}

TEST_F(CoapEngine, AMalformedBlockOptionIsBadRequest) {
  login();
  feed(Request{.id = 1, .options = {Option{option::block1, std::string(4, '\1')}}});
  EXPECT_EQ(last().code, code::bad_request);
}

// --- Observe /c2d -----------------------------------------------------------------------------

TEST_F(CoapEngine, ObserveRegistersAndNotificationsCarryIncreasingSequenceNumbers) {
  login();
  feed(Request{.code = code::get,
               .id = 2,
               .token = "ob",
               .path = "c2d",
               .options = {uint_option(option::observe, 0)}});
  EXPECT_EQ(host.downstream_calls, std::vector<bool>{true});
  EXPECT_EQ(last().type, Type::ack);
  EXPECT_EQ(last().code, code::content);
  EXPECT_TRUE(last().payload.empty());
  const auto registered = *uint_of(last(), option::observe);
  EXPECT_TRUE(engine->observing());

  engine->on_downstream({"one", "application/json"}, 11, now);
  const auto first = last();
  EXPECT_EQ(first.type, Type::con);
  EXPECT_EQ(first.code, code::content);
  EXPECT_EQ(first.token, "ob");
  EXPECT_EQ(first.payload, "one");
  EXPECT_EQ(uint_of(first, option::content_format), 50U);
  EXPECT_GT(*uint_of(first, option::observe), registered);

  engine->on_downstream({"two", ""}, 12, now);
  EXPECT_EQ(last().id, first.id);  // one in flight at a time
  ack(first.id);
  ASSERT_EQ(host.settled.size(), 1U);
  EXPECT_EQ(host.settled[0].delivery, 11U);
  EXPECT_EQ(host.settled[0].outcome, IOTGW_ACCEPTED);
  const auto second = last();
  EXPECT_EQ(second.payload, "two");
  EXPECT_EQ(second.find(option::content_format), nullptr);
  EXPECT_GT(*uint_of(second, option::observe), *uint_of(first, option::observe));
}

TEST_F(CoapEngine, ObserveSequenceNumbersWrapAt24Bits) {
  Observation o;
  std::uint32_t last_seen = 0;
  for (int i = 0; i < (1 << 24) + 3; ++i) last_seen = o.next_sequence();
  EXPECT_LT(last_seen, 1U << 24);
}

TEST_F(CoapEngine, AnRstToANotificationRejectsItAndEndsTheObservation) {
  observe();
  engine->on_downstream({"one", ""}, 11, now);
  engine->on_downstream({"two", ""}, 12, now);
  rst(last().id);
  ASSERT_EQ(host.settled.size(), 2U);
  EXPECT_EQ(host.settled[0].delivery, 11U);
  EXPECT_EQ(host.settled[0].outcome, IOTGW_REJECTED);
  EXPECT_EQ(host.settled[1].delivery, 12U);
  EXPECT_EQ(host.settled[1].outcome, IOTGW_RELEASED);
  EXPECT_EQ(host.downstream_calls, (std::vector<bool>{true, false}));
  EXPECT_FALSE(engine->observing());
}

TEST_F(CoapEngine, Observe1DeregistersAndGivesQueuedMessagesBack) {
  observe();
  engine->on_downstream({"one", ""}, 11, now);
  engine->on_downstream({"two", ""}, 12, now);
  feed(Request{.code = code::get,
               .id = 3,
               .token = "ob",
               .path = "c2d",
               .options = {uint_option(option::observe, 1)}});
  EXPECT_EQ(last().code, code::content);
  EXPECT_EQ(last().find(option::observe), nullptr);
  EXPECT_EQ(host.downstream_calls, (std::vector<bool>{true, false}));
  ASSERT_EQ(host.settled.size(), 1U);
  EXPECT_EQ(host.settled[0].delivery, 12U);
  EXPECT_EQ(host.settled[0].outcome, IOTGW_RELEASED);
  engine->on_downstream({"late", ""}, 13, now);
  EXPECT_EQ(host.settled.back().delivery, 13U);
  EXPECT_EQ(host.settled.back().outcome, IOTGW_RELEASED);
}

TEST_F(CoapEngine, ANotificationUnacknowledgedToTheEndIsReleasedAndTheObserverRemoved) {
  observe();
  engine->on_downstream({"one", ""}, 11, now);
  for (const auto wait : {2s, 4s, 8s, 16s, 32s}) advance(wait);
  EXPECT_EQ(host.written.size(), 5U);
  ASSERT_EQ(host.settled.size(), 1U);
  EXPECT_EQ(host.settled[0].outcome, IOTGW_RELEASED);
  EXPECT_FALSE(engine->observing());
}

TEST_F(CoapEngine, C2dWithNoObserverOrAFullQueueGoesBackToTheHub) {
  auto options = test_options();
  options.max_queued_c2d = 1;
  make(options);
  engine->on_downstream({"x", ""}, 1, now);
  EXPECT_EQ(host.settled.back().outcome, IOTGW_RELEASED);
  observe();
  engine->on_downstream({"in flight", ""}, 2, now);
  engine->on_downstream({"queued", ""}, 3, now);
  engine->on_downstream({"over", ""}, 4, now);
  EXPECT_EQ(host.settled.back().delivery, 4U);
  EXPECT_EQ(host.settled.back().outcome, IOTGW_RELEASED);
}

TEST_F(CoapEngine, GetC2dWithoutObserveIsNotFound) {
  login();
  feed(Request{.code = code::get, .id = 2, .path = "c2d"});
  EXPECT_EQ(last().code, code::not_found);
}

// --- Block2 -----------------------------------------------------------------------------------

TEST_F(CoapEngine, ALargeC2dBodyGoesBlockWiseAndCompletesAtTheLastBlock) {
  auto options = test_options();
  options.block_size = 16;
  make(options);
  observe();
  const std::string body = std::string(16, 'a') + std::string(16, 'b') + "tail";
  engine->on_downstream({body, "text/plain;charset=utf-8"}, 11, now);
  const auto n = last();
  EXPECT_EQ(n.payload, std::string(16, 'a'));
  EXPECT_EQ(encode_block(*block_of(n, option::block2)), encode_block({0, true, 0}));
  EXPECT_EQ(uint_of(n, option::size2), body.size());
  EXPECT_EQ(uint_of(n, option::content_format), 0U);
  const auto* etag = n.find(option::etag);
  ASSERT_NE(etag, nullptr);
  ack(n.id);
  EXPECT_TRUE(host.settled.empty());  // not before the last block

  feed(Request{.code = code::get,
               .id = 3,
               .token = "f1",
               .path = "c2d",
               .options = {block_option(option::block2, {1, false, 0}), *etag}});
  EXPECT_EQ(last().code, code::content);
  EXPECT_EQ(last().payload, std::string(16, 'b'));
  EXPECT_TRUE(block_of(last(), option::block2)->more);
  EXPECT_TRUE(host.settled.empty());
  feed(Request{.code = code::get,
               .id = 4,
               .token = "f2",
               .path = "c2d",
               .options = {block_option(option::block2, {2, false, 0})}});
  EXPECT_EQ(last().payload, "tail");
  EXPECT_FALSE(block_of(last(), option::block2)->more);
  ASSERT_EQ(host.settled.size(), 1U);
  EXPECT_EQ(host.settled[0].outcome, IOTGW_ACCEPTED);

  feed(Request{.code = code::get,
               .id = 5,
               .path = "c2d",
               .options = {block_option(option::block2, {3, false, 0})}});
  EXPECT_EQ(last().code, code::bad_option);
  feed(
      Request{.code = code::get,
              .id = 6,
              .path = "c2d",
              .options = {block_option(option::block2, {1, false, 0}), Option{option::etag, "?"}}});
  EXPECT_EQ(last().code, code::not_found);
  EXPECT_EQ(host.settled.size(), 1U);
}

TEST_F(CoapEngine, BlocksNotFetchedInTimeGiveTheMessageBack) {
  auto options = test_options();
  options.block_size = 16;
  make(options);
  observe();
  engine->on_downstream({std::string(40, 'x'), ""}, 11, now);
  ack(last().id);
  advance(247s);
  ASSERT_EQ(host.settled.size(), 1U);
  EXPECT_EQ(host.settled[0].outcome, IOTGW_RELEASED);
}

}  // namespace
}  // namespace iotgw::coap
