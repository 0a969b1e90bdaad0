// The coap adapter in the real iotgw, upstream a real iotgw-hub, read from the hub's service side.
// Clients nobody here wrote: libcoap's coap-client, plain and with DTLS pre-shared keys over both
// OpenSSL and GnuTLS. Datagrams made with the adapter's own codec where a test must send what no
// client would, or must know exactly which requests were answered 2.04. Identity on udp: `d` and a
// real SAS token in `p`, checked by auth-sas against the hub's registry; on dtls: auth-file's keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "codec/codec.hpp"
#include "gateway_fixture.hpp"
#include "hub_under_test.hpp"
#include "process.hpp"
#include "udp_peer.hpp"

namespace iotgw::test {
namespace {

using namespace std::chrono_literals;
namespace coap = iotgw::coap;

const std::filesystem::path kCoapClient = "/usr/bin/coap-client-notls";
const std::filesystem::path kCoapClientOpenssl = "/usr/bin/coap-client-openssl";
const std::filesystem::path kCoapClientGnutls = "/usr/bin/coap-client-gnutls";

// One telemetry message as the hub's service side reads it (a line of `iotgw-hub monitor`).
struct Telemetry {
  std::string device, body;
  bool durable = false;
  std::map<std::string, std::string> properties, system;
};

// The first `count` telemetry messages the hub holds, oldest first (fewer if it has fewer after
// monitor's 20 s).
std::vector<Telemetry> telemetry_at(const HubUnderTest& hub, int count) {
  std::vector<Telemetry> seen;
  std::istringstream lines(hub.monitor(count));
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with('{')) continue;
    const auto j = nlohmann::json::parse(line);
    Telemetry t{.device = j.at("device").get<std::string>(),
                .body = j.at("body").get<std::string>(),
                .durable = j.at("durable").get<bool>(),
                .properties = j.at("properties").get<std::map<std::string, std::string>>(),
                .system = j.at("system").get<std::map<std::string, std::string>>()};
    seen.push_back(std::move(t));
  }
  return seen;
}

std::multiset<std::string> bodies_of(const std::vector<Telemetry>& seen) {
  std::multiset<std::string> bodies;
  for (const auto& t : seen) bodies.insert(t.body);
  return bodies;
}

// A device's SAS token, minted by iotgw-hub's CLI from the hub's registry.
std::string sas_token(const HubUnderTest& hub, const std::string& device) {
  auto r = run(kHub, {"token", "--registry", hub.registry(), "--device", device, "--ttl", "3600"});
  EXPECT_EQ(r.code, 0) << r.output;
  while (!r.output.empty() && std::isspace(static_cast<unsigned char>(r.output.back()))) {
    r.output.pop_back();
  }
  return r.output;
}

// coap-client's arguments for a Uri-Query option `p` holding `credential`. Not in the URI:
// coap-client splits a URI's query into a 100-byte buffer and silently leaves out what does not
// fit, and a SAS token is longer than that.
std::vector<std::string> p_option(const std::string& credential) {
  return {"-O", "15,p=" + credential};
}

// iotgw with two coap listeners upstream the hub, whose tokens the bridge mints from its policy:
// `coap` on udp, its devices checked by auth-sas (local: the token's signature against the hub's
// registry), and `coaps` on dtls, its pre-shared keys auth-file's (identity sensor-9 is dev2).
class CoapGateway {
 public:
  explicit CoapGateway(const HubUnderTest& hub) : gw_(topology(hub, keys_)) {}
  std::uint16_t udp_port() { return gw_.port("coap"); }
  std::uint16_t dtls_port() { return gw_.port("coaps"); }
  GatewayUnderTest& gw() { return gw_; }
  std::string log() { return gw_.process().output(); }

 private:
  static std::string topology(const HubUnderTest& hub, const TempDir& keys) {
    write_secret_file(keys / "keys.yaml",
               "psk:\n  - {identity: sensor-9, key: secretKey, device: dev2}\n");
    return "gateway: {plugins_dir: plugins, threads: 2}\n" + hub.minting_bridge() +
           "stages:\n"
           "  - {name: sas, plugin: auth-sas, config: {mode: local, registry: '" +
           hub.registry() +
           "'}}\n"
           "  - {name: keys, plugin: auth-file, config: {file: '" +
           (keys / "keys.yaml").string() +
           "'}}\n"
           "listeners:\n"
           "  - {name: coap, adapter: coap, transport: udp, bind: '127.0.0.1:0', auth: [sas]}\n"
           "  - {name: coaps, adapter: coap, transport: dtls, bind: '127.0.0.1:0', auth: [keys]}\n";
  }
  TempDir keys_;
  GatewayUnderTest gw_;
};

std::string coap_uri(std::uint16_t port, const std::string& path, const std::string& query) {
  return "coap://127.0.0.1:" + std::to_string(port) + path + (query.empty() ? "" : "?" + query);
}

// coap-client to the end, with `p` as a separate option: its exit code says little (0 even for
// 4.01 or no answer), so tests read the response code it prints and, above all, the hub.
RunResult coap_client(const std::string& credential, std::vector<std::string> args) {
  args.insert(args.begin(), {"-B", "10"});
  if (!credential.empty()) {
    const auto p = p_option(credential);
    args.insert(args.begin(), p.begin(), p.end());
  }
  return run(kCoapClient, args, 30s);
}

TEST(Coap, ConTelemetryReachesTheHubWithItsContentTypeAndQueryPropertiesButNotTheLogin) {
  HubUnderTest hub;
  CoapGateway g(hub);
  const auto r = coap_client(sas_token(hub, "dev1"),
                             {"-m", "post", "-t", "50", "-e", R"({"t":21})",
                              coap_uri(g.udp_port(), "/telemetry", "d=dev1&site=north")});
  EXPECT_EQ(r.code, 0) << r.output;
  const auto seen = telemetry_at(hub, 1);
  ASSERT_EQ(seen.size(), 1U) << r.output << g.log();
  EXPECT_EQ(seen[0].device, "dev1");
  EXPECT_EQ(seen[0].body, R"({"t":21})");
  EXPECT_EQ(seen[0].system.at("content-type"), "application/json");
  // `d` and `p` are the login, not application properties.
  EXPECT_EQ(seen[0].properties, (std::map<std::string, std::string>{{"site", "north"}}));
  EXPECT_TRUE(seen[0].durable) << "a CON is at least once: a durable message upstream";
}

TEST(Coap, NonTelemetryReachesTheHubAsANonDurableMessage) {
  HubUnderTest hub;
  CoapGateway g(hub);
  const auto r =
      coap_client(sas_token(hub, "dev1"), {"-N", "-m", "post", "-e", "non-confirmable",
                                           coap_uri(g.udp_port(), "/telemetry", "d=dev1")});
  EXPECT_EQ(r.code, 0) << r.output;
  const auto seen = telemetry_at(hub, 1);
  ASSERT_EQ(seen.size(), 1U) << r.output << g.log();
  EXPECT_EQ(seen[0].device, "dev1");
  EXPECT_EQ(seen[0].body, "non-confirmable");
  EXPECT_FALSE(seen[0].durable) << "a NON is at most once";
}

TEST(Coap, A16KiBPayloadSentBlockWiseArrivesWholeAtTheHub) {
  HubUnderTest hub;
  CoapGateway g(hub);
  TempDir dir;
  // Numbered lines: a block lost, repeated or out of place changes the body.
  std::string body;
  for (int i = 0; body.size() < 16 * 1024; ++i) {
    char line[32];
    std::snprintf(line, sizeof line, "line %05d\n", i);
    body += line;
  }
  body.resize(16 * 1024);
  write_file(dir / "big.txt", body);
  const auto r = coap_client(sas_token(hub, "dev1"),
                             {"-m", "post", "-b", "1024", "-f", (dir / "big.txt").string(),
                              coap_uri(g.udp_port(), "/telemetry", "d=dev1")});
  EXPECT_EQ(r.code, 0) << r.output;
  const auto seen = telemetry_at(hub, 1);
  ASSERT_EQ(seen.size(), 1U) << r.output << g.log();
  EXPECT_EQ(seen[0].body.size(), body.size());
  EXPECT_TRUE(seen[0].body == body) << "the body at the hub differs from the one sent";
}

TEST(Coap, AnObserverOfC2dReceivesAMessageSentWithIotgwHubSendAndItsAckCompletesIt) {
  HubUnderTest hub;
  CoapGateway g(hub);
  TempDir dir;
  // -s: Observe for 30 s; -w: a newline after each notification's payload.
  auto args = p_option(sas_token(hub, "dev1"));
  args.insert(args.end(), {"-B", "30", "-s", "30", "-w", "-m", "get",
                           coap_uri(g.udp_port(), "/c2d", "d=dev1")});
  Process observer(kCoapClient, args, dir / "observer.log");
  // The hub queues it until the gateway's C2D link for dev1 attaches (once dev1 observes).
  EXPECT_EQ(hub.send("dev1", "switch on").code, 0);
  EXPECT_TRUE(observer.wait_for("switch on\n", 20s)) << observer.output() << g.log();
  // The client's ACK to the notification completes the message at the hub.
  EXPECT_TRUE(hub.process().wait_for("dev1: C2D message .* ended: Success"))
      << hub.process().output();
}

// The DTLS client's telemetry, as the pre-shared key's device.
RunResult dtls_post(const std::filesystem::path& client, std::uint16_t port, const std::string& key,
                    const std::string& body) {
  return run(client,
             {"-B", key == "secretKey" ? "10" : "3", "-u", "sensor-9", "-k", key, "-m", "post",
              "-e", body, "coaps://127.0.0.1:" + std::to_string(port) + "/telemetry"},
             30s);
}

TEST(Coap, DtlsPreSharedKeysLogInAsTheirDeviceWithOpensslAndGnutlsAndAWrongKeyGetsNothingIn) {
  HubUnderTest hub;
  CoapGateway g(hub);
  const auto port = g.dtls_port();
  // Wrong keys first: had either got a message in, it would be among the first two at the hub.
  for (const auto& client : {kCoapClientOpenssl, kCoapClientGnutls}) {
    const auto wrong =
        dtls_post(client, port, "wrongKey", "wrong key " + client.filename().string());
    // The handshake fails, so the request never goes.
    EXPECT_NE(wrong.output.find("cannot send CoAP pdu"), std::string::npos) << wrong.output;
  }
  for (const auto& client : {kCoapClientOpenssl, kCoapClientGnutls}) {
    const auto r = dtls_post(client, port, "secretKey", "psk " + client.filename().string());
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output.find("cannot send"), std::string::npos) << r.output;
  }
  const auto seen = telemetry_at(hub, 2);
  EXPECT_EQ(bodies_of(seen),
            (std::multiset<std::string>{"psk coap-client-gnutls", "psk coap-client-openssl"}))
      << g.log();
  for (const auto& t : seen) EXPECT_EQ(t.device, "dev2") << t.body;
}

TEST(Coap, AWrongSasTokenIsAnswered401AndNothingReachesTheHub) {
  HubUnderTest hub;
  CoapGateway g(hub);
  const auto port = g.udp_port();
  auto forged = sas_token(hub, "dev1");  // right form and audience, a signature no key makes
  const auto sig = forged.find("sig=") + 4;
  forged[sig] = forged[sig] == 'A' ? 'B' : 'A';
  const struct {
    std::string what, credential;
  } cases[] = {
      {.what = "junk", .credential = "hunter2"},
      {.what = "another device's token", .credential = sas_token(hub, "dev2")},
      {.what = "a forged signature", .credential = forged},
  };
  for (const auto& c : cases) {
    const auto r = coap_client(
        c.credential, {"-m", "post", "-e", c.what, coap_uri(port, "/telemetry", "d=dev1")});
    EXPECT_NE(r.output.find("4.01"), std::string::npos) << c.what << ":\n" << r.output;
  }
  // A request with no identity at all is refused the same way.
  const auto anonymous =
      coap_client("", {"-m", "post", "-e", "anonymous", coap_uri(port, "/telemetry", "")});
  EXPECT_NE(anonymous.output.find("4.01"), std::string::npos) << anonymous.output;
  EXPECT_EQ(coap_client(sas_token(hub, "dev1"), {"-m", "post", "-e", "the right token",
                                                 coap_uri(port, "/telemetry", "d=dev1")})
                .code,
            0);
  EXPECT_EQ(bodies_of(telemetry_at(hub, 1)), (std::multiset<std::string>{"the right token"}))
      << g.log();
}

// A CoAP peer speaking through the adapter's own codec, for requests no client library would
// send and for counting exactly which requests were answered.
class CoapPeer {
 public:
  explicit CoapPeer(std::uint16_t port) : udp_(port) {}

  void send(const coap::Message& m) const { udp_.send(encoded(m)); }
  void send_raw(const std::string& datagram) const { udp_.send(datagram); }
  // The next datagram decoded; nullopt when none comes in time or it is not CoAP.
  std::optional<coap::Message> receive(std::chrono::milliseconds wait = 3s) const {
    const auto datagram = udp_.receive(wait);
    if (!datagram) return std::nullopt;
    coap::Message m;
    std::string error;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(datagram->data());
    if (coap::decode({bytes, datagram->size()}, m, error) != coap::Decoded::message) {
      ADD_FAILURE() << "the gateway sent a datagram that is not CoAP: " << error;
      return std::nullopt;
    }
    return m;
  }

  // A CON request with a fresh id and token: the requests a test builds.
  coap::Message request(coap::Code code, const std::string& path,
                        const std::vector<std::string>& query, std::string payload = {}) {
    coap::Message m{.type = coap::Type::con,
                    .code = code,
                    .id = next_id_++,
                    .token = std::to_string(next_token_++),
                    .options = {},
                    .payload = std::move(payload)};
    m.add(coap::option::uri_path, path);
    for (const auto& q : query) m.add(coap::option::uri_query, q);
    return m;
  }

  // Sends a CON and waits for its answer: piggybacked in the ACK, or after an empty ACK the
  // separate response (which is ACKed here). Retransmits after 2, 4, 8, 16 s as RFC 7252 does.
  // nullopt when nothing came within `give_up`; an RST comes back as itself.
  std::optional<coap::Message> exchange(const coap::Message& request,
                                        std::chrono::milliseconds give_up = 60s) const {
    const auto datagram = encoded(request);
    const auto until = std::chrono::steady_clock::now() + give_up;
    auto timeout = std::chrono::milliseconds(2s);
    auto resend_at = std::chrono::steady_clock::now() + timeout;
    bool acked = false;
    udp_.send(datagram);
    for (;;) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= until) return std::nullopt;
      if (!acked && now >= resend_at) {
        udp_.send(datagram);
        timeout *= 2;
        resend_at = now + timeout;
      }
      const auto wake = acked ? until : std::min(until, resend_at);
      const auto m = receive(std::chrono::ceil<std::chrono::milliseconds>(wake - now));
      if (!m) continue;
      if (m->type == coap::Type::con) {
        coap::Message ack;
        ack.type = coap::Type::ack;
        ack.id = m->id;
        send(ack);
        if (m->token == request.token) return m;
      } else if (m->id == request.id && m->type == coap::Type::ack && m->code.empty()) {
        acked = true;
      } else if (m->id == request.id) {
        return m;  // the piggybacked answer or an RST
      }
    }
  }

 private:
  static std::string encoded(const coap::Message& m) {
    std::vector<std::uint8_t> out;
    coap::encode(m, out);
    return {out.begin(), out.end()};
  }

  UdpPeer udp_;
  std::uint16_t next_id_ = 0x4100;
  std::uint32_t next_token_ = 1;
};

// `d` and `p` as the Uri-Query options carry them (decoded).
std::vector<std::string> login_options(const HubUnderTest& hub, const std::string& device) {
  return {"d=" + device, "p=" + sas_token(hub, device)};
}

TEST(Coap, HubKilledDuringAConStreamLosesNothingThatWasAnswered204) {
  HubUnderTest hub;
  CoapGateway g(hub);
  constexpr int kMessages = 60;
  CoapPeer device(g.udp_port());
  const auto login = login_options(hub, "dev1");
  std::atomic<int> answered{0};
  // One request at a time, each until it is answered 2.04; a 5.03 (the hub could not take it)
  // is sent again, as a device would. Every request names the device: after losing the hub the
  // gateway may have ended the peer's session.
  auto stream = std::async(std::launch::async, [&] {
    std::vector<int> changed;
    std::vector<std::string> other;
    for (int seq = 0; seq < kMessages; ++seq) {
      for (int attempt = 0; attempt < 20; ++attempt) {
        const auto answer = device.exchange(
            device.request(coap::code::post, "telemetry", login, "c-" + std::to_string(seq)));
        if (answer && answer->code == coap::code::changed) {
          changed.push_back(seq);
          ++answered;
          break;
        }
        other.push_back("c-" + std::to_string(seq) + ": " +
                        (answer ? answer->code.str() + " " + answer->payload : "no answer"));
        std::this_thread::sleep_for(500ms);
      }
    }
    return std::make_pair(changed, other);
  });
  while (answered < 20 && stream.wait_for(10ms) != std::future_status::ready) {
  }
  hub.kill();
  // While the hub is away nothing more is answered 2.04 (one may have been accepted in time).
  const int answered_while_up = answered;
  std::this_thread::sleep_for(1s);
  EXPECT_LE(answered, answered_while_up + 1);
  hub.restart();
  ASSERT_EQ(stream.wait_for(180s), std::future_status::ready) << g.log();
  const auto [changed, other] = stream.get();
  EXPECT_EQ(changed.size(), static_cast<std::size_t>(kMessages))
      << testing::PrintToString(other) << g.log();
  // Every message answered 2.04 is at the restarted hub, at least once (a message the hub took
  // just before it died may be there twice, so read beyond).
  const auto bodies = bodies_of(telemetry_at(hub, static_cast<int>(changed.size()) + 5));
  for (const int seq : changed) {
    EXPECT_GT(bodies.count("c-" + std::to_string(seq)), 0U)
        << "c-" << seq << " was answered 2.04 but is not at the hub";
  }
}

// A UDP peer never closes its session, so on SIGTERM the gateway must not wait for one that has
// nothing in flight: drain_timeout (10 s by default) is for answers still owed.
TEST(Coap, PeersWithNothingInFlightDoNotHoldTheGatewaysShutdown) {
  HubUnderTest hub;
  CoapGateway g(hub);
  CoapPeer device(g.udp_port());
  const auto answer = device.exchange(
      device.request(coap::code::post, "telemetry", login_options(hub, "dev1"), "then stop"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->code, coap::code::changed);
  g.gw().process().signal(SIGTERM);
  EXPECT_EQ(g.gw().process().wait_exit(5s), 0) << g.log();
}

// What the gateway answers a malformed datagram with.
enum class Answer { nothing, rst };

struct Malformed {
  const char* what;
  std::string datagram;
  Answer answer;
};

// A header of version 1 (unless `first` says otherwise): type and token length in `first`,
// code, message id 0x7A01.
std::string header(std::uint8_t first, std::uint8_t code) {
  return {static_cast<char>(first), static_cast<char>(code), '\x7A', '\x01'};
}

TEST(Coap, MalformedDatagramsGetAnRstOrNothingAndAnotherPeersTelemetryGoesOn) {
  HubUnderTest hub;
  CoapGateway g(hub);
  const auto port = g.udp_port();
  constexpr std::uint8_t kCon = 0x40, kNon = 0x50, kPost = 0x02;
  const Malformed cases[] = {
      {.what = "version 2", .datagram = header(0x80, kPost), .answer = Answer::nothing},
      {.what = "version 0", .datagram = header(0x00, kPost), .answer = Answer::nothing},
      {.what = "shorter than a header", .datagram = "\x40\x02\x7A", .answer = Answer::nothing},
      {.what = "CON, token length 9",
       .datagram = header(kCon | 9, kPost) + std::string(9, 't'),
       .answer = Answer::rst},
      {.what = "CON, token length 15",
       .datagram = header(kCon | 15, kPost) + std::string(15, 't'),
       .answer = Answer::rst},
      {.what = "NON, token length 12",
       .datagram = header(kNon | 12, kPost) + std::string(12, 't'),
       .answer = Answer::nothing},
      {.what = "an option longer than the datagram",
       .datagram = header(kCon, kPost) + "\xB9tele",
       .answer = Answer::rst},
      {.what = "an option delta's extension byte past the end",
       .datagram = header(kCon, kPost) + "\xD0",
       .answer = Answer::rst},
      {.what = "an option delta's two extension bytes past the end",
       .datagram = header(kCon, kPost) + "\xE0\x01",
       .answer = Answer::rst},
      {.what = "option delta nibble 15",
       .datagram = header(kCon, kPost) + "\xF1x",
       .answer = Answer::rst},
      {.what = "an option number over 65535",
       .datagram = header(kCon, kPost) + std::string("\xE0\xFF\xFF", 3),
       .answer = Answer::rst},
      {.what = "a payload marker with no payload",
       .datagram = header(kCon, kPost) + "\xFF",
       .answer = Answer::rst},
      {.what = "reserved code class 1", .datagram = header(kCon, 0x20), .answer = Answer::rst},
      {.what = "an empty message with bytes after the header",
       .datagram = header(kCon, 0x00) + "\xFFx",
       .answer = Answer::rst},
  };
  CoapPeer bad(port);
  CoapPeer good(port);
  const auto good_login = login_options(hub, "dev2");
  int sent = 0;
  // The other peer's telemetry, between each of the bad one's datagrams.
  const auto good_telemetry = [&](const std::string& after) {
    const auto body = "good " + std::to_string(sent);
    const auto answer =
        good.exchange(good.request(coap::code::post, "telemetry",
                                   sent++ == 0 ? good_login : std::vector<std::string>{}, body));
    ASSERT_TRUE(answer) << "no answer after " << after;
    EXPECT_EQ(answer->code, coap::code::changed) << "after " << after << ": " << answer->payload;
  };
  good_telemetry("nothing");
  for (const auto& c : cases) {
    bad.send_raw(c.datagram);
    const auto answer = bad.receive(c.answer == Answer::nothing ? 300ms : 3s);
    if (c.answer == Answer::nothing) {
      EXPECT_FALSE(answer) << c.what << ": answered " << answer->code.str();
    } else {
      ASSERT_TRUE(answer) << c.what << ": no RST";
      EXPECT_EQ(answer->type, coap::Type::rst) << c.what;
      EXPECT_EQ(answer->id, 0x7A01) << c.what;
    }
    good_telemetry(c.what);
  }
  // Block1 out of order, from a peer that is logged in: a body with a hole is 4.08.
  const auto block = [&](std::uint32_t num, bool more, std::size_t size,
                         const std::vector<std::string>& query = {}) {
    auto m = bad.request(coap::code::post, "telemetry", query, std::string(size, 'b'));
    m.add_uint(coap::option::block1, coap::encode_block({.num = num, .more = more, .szx = 6}));
    return bad.exchange(m);
  };
  const struct {
    const char* what;
    std::uint32_t num;
    bool more;
    std::size_t size;
    coap::Code code;
  } blocks[] = {
      {.what = "block 1 first",
       .num = 1,
       .more = true,
       .size = 1024,
       .code = coap::code::request_entity_incomplete},
      {.what = "block 0", .num = 0, .more = true, .size = 1024, .code = coap::code::continue_},
      {.what = "block 2 after 0",
       .num = 2,
       .more = false,
       .size = 10,
       .code = coap::code::request_entity_incomplete},
      {.what = "block 0 again",
       .num = 0,
       .more = true,
       .size = 1024,
       .code = coap::code::continue_},
      {.what = "a short middle block 1",
       .num = 1,
       .more = true,
       .size = 100,
       .code = coap::code::request_entity_incomplete},
  };
  const auto login = block(0, false, 5, login_options(hub, "dev1"));  // a one-block body
  ASSERT_TRUE(login);
  EXPECT_EQ(login->code, coap::code::changed) << login->payload;
  for (const auto& b : blocks) {
    const auto answer = block(b.num, b.more, b.size);
    ASSERT_TRUE(answer) << b.what << ": no answer";
    EXPECT_EQ(answer->code, b.code) << b.what << ": " << answer->payload;
    good_telemetry(b.what);
  }
  EXPECT_TRUE(g.gw().process().running());
  // Everything the good peer sent, and the bad peer's one whole body, and nothing else.
  std::multiset<std::string> expected{std::string(5, 'b')};
  for (int i = 0; i < sent; ++i) expected.insert("good " + std::to_string(i));
  EXPECT_EQ(bodies_of(telemetry_at(hub, sent + 1)), expected);
}

}  // namespace
}  // namespace iotgw::test
