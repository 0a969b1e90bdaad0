// The udp and dtls transports under the real iotgw, with the line adapter (any adapter runs on
// them, and line's replies make each datagram visible): one session per peer address, datagram
// boundaries kept both ways, idle expiry, the session cap, oversized datagrams, and DTLS with
// pre-shared keys from auth-file through OpenSSL's own client, including the cookie exchange that
// keeps ClientHellos from unproven addresses from costing any state, and a device's new handshake
// from an address whose association is still up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"
#include "process.hpp"
#include "test_pki.hpp"
#include "udp_peer.hpp"

namespace iotgw::test {
namespace {

using namespace std::chrono_literals;

std::string line_topology(const std::string& extra) {
  return "gateway: {plugins_dir: plugins}\n"
         "bridge: {flavour: loopback}\n"
         "listeners:\n"
         "  - {name: lines, adapter: line, transport: udp, bind: '127.0.0.1:0'" +
         extra + "}\n";
}

TEST(Udp, EachPeerIsASessionOfItsOwnAndDatagramsKeepTheirBoundaries) {
  GatewayUnderTest gw(line_topology(""));
  UdpPeer a(gw.port("lines"));
  UdpPeer b(gw.port("lines"));
  a.send("HELLO dev-a\n");
  EXPECT_EQ(a.receive(), "WELCOME dev-a\n");
  b.send("HELLO dev-b\n");
  EXPECT_EQ(b.receive(), "WELCOME dev-b\n");
  // Two lines in one datagram: each answer the adapter writes is a datagram of its own.
  a.send("one\ntwo\n");
  std::multiset<std::string> got;
  for (int i = 0; i < 4; ++i) got.insert(a.receive().value_or("(none)"));
  EXPECT_EQ(got, (std::multiset<std::string>{"ACK 1\n", "ACK 2\n", "MSG one\n", "MSG two\n"}));
  // b's session counts its own lines.
  b.send("three\n");
  std::multiset<std::string> got_b{b.receive().value_or("(none)"), b.receive().value_or("(none)")};
  EXPECT_EQ(got_b, (std::multiset<std::string>{"ACK 1\n", "MSG three\n"}));
}

TEST(Udp, AnIdleSessionEndsAndTheNextDatagramStartsAFreshOne) {
  GatewayUnderTest gw(line_topology(", udp: {idle_timeout: 300ms}"));
  UdpPeer a(gw.port("lines"));
  a.send("HELLO dev-a\n");
  ASSERT_EQ(a.receive(), "WELCOME dev-a\n");
  std::this_thread::sleep_for(1500ms);  // the sweep runs every quarter of the timeout
  // A fresh session wants HELLO first: the line adapter closes it on a plain line, where the old
  // session would have answered ACK.
  a.send("after\n");
  EXPECT_EQ(a.receive(500ms), std::nullopt);
  a.send("HELLO dev-a\n");
  EXPECT_EQ(a.receive(), "WELCOME dev-a\n");
}

TEST(Udp, NoSessionIsMadePastMaxConnectionsUntilOneEnds) {
  GatewayUnderTest gw(line_topology(", max_connections: 1, udp: {idle_timeout: 500ms}"));
  UdpPeer a(gw.port("lines"));
  UdpPeer b(gw.port("lines"));
  a.send("HELLO dev-a\n");
  ASSERT_EQ(a.receive(), "WELCOME dev-a\n");
  b.send("HELLO dev-b\n");
  EXPECT_EQ(b.receive(300ms), std::nullopt);
  std::this_thread::sleep_for(1500ms);  // a idles out
  b.send("HELLO dev-b\n");
  EXPECT_EQ(b.receive(), "WELCOME dev-b\n");
}

TEST(Udp, ADatagramLargerThanMaxDatagramIsDroppedAndTheSessionGoesOn) {
  GatewayUnderTest gw(line_topology(", udp: {max_datagram: 128}"));
  UdpPeer a(gw.port("lines"));
  a.send("HELLO dev-a\n");
  ASSERT_EQ(a.receive(), "WELCOME dev-a\n");
  a.send(std::string(200, 'x') + "\n");
  EXPECT_EQ(a.receive(300ms), std::nullopt);
  a.send("fits\n");
  std::multiset<std::string> got{a.receive().value_or("(none)"), a.receive().value_or("(none)")};
  EXPECT_EQ(got, (std::multiset<std::string>{"ACK 1\n", "MSG fits\n"}));
}

// A dtls listener whose keys and certificates come from auth-file.
class DtlsGateway {
 public:
  explicit DtlsGateway(const std::string& extra = "") : gw_(topology(keys_, extra)) {}
  GatewayUnderTest& gw() { return gw_; }

 private:
  static std::string topology(const TempDir& keys, const std::string& extra) {
    write_secret_file(keys / "keys.yaml",
                      "psk:\n  - {identity: sensor-9, key: secretKey, device: dev-9}\n"
                      "certificates:\n  - {cn: meter-7, device: dev-7}\n");
    return "gateway: {plugins_dir: plugins}\n"
           "bridge: {flavour: loopback}\n"
           "stages:\n"
           "  - {name: keys, plugin: auth-file, config: {file: '" +
           (keys / "keys.yaml").string() +
           "'}}\n"
           "listeners:\n"
           "  - {name: lines, adapter: line, transport: dtls, bind: '127.0.0.1:0', auth: [keys]" +
           extra + "}\n";
  }
  TempDir keys_;
  GatewayUnderTest gw_;
};

// OpenSSL's own DTLS client with a pre-shared key: says HELLO (the device comes from the key, not
// from what it says), then one line; returns what it printed.
std::string openssl_dtls_client(std::uint16_t port, const std::string& identity,
                                const std::string& key_hex, const std::string& extra = "") {
  const std::string script =
      "(printf 'HELLO whoever\\n'; sleep 0.5; printf 'ping\\n'; sleep 1) | "
      "timeout 5 openssl s_client -dtls1_2 -quiet -connect 127.0.0.1:" +
      std::to_string(port) + " -psk_identity " + identity + " -psk " + key_hex + " " + extra +
      " 2>&1";
  return run("/bin/sh", {"-c", script}, 10s).output;
}

constexpr const char* kSecretKeyHex = "7365637265744b6579";  // "secretKey"

TEST(Dtls, APreSharedKeyFromAuthFileLogsItsDeviceIn) {
  DtlsGateway g;
  const auto out = openssl_dtls_client(g.gw().port("lines"), "sensor-9", kSecretKeyHex);
  EXPECT_NE(out.find("WELCOME dev-9"), std::string::npos) << out;
  EXPECT_NE(out.find("ACK 1"), std::string::npos) << out;
  EXPECT_NE(out.find("MSG ping"), std::string::npos) << out;
}

TEST(Dtls, AWrongKeyOrAnUnknownIdentityGetsNoSession) {
  DtlsGateway g(", udp: {handshake_timeout: 1s}");
  const auto wrong = openssl_dtls_client(g.gw().port("lines"), "sensor-9", "00112233");
  EXPECT_EQ(wrong.find("WELCOME"), std::string::npos) << wrong;
  const auto unknown = openssl_dtls_client(g.gw().port("lines"), "nobody", kSecretKeyHex);
  EXPECT_EQ(unknown.find("WELCOME"), std::string::npos) << unknown;
}

TEST(Dtls, AClientCertificateTheCaVerifiedLogsItsDeviceIn) {
  const TempDir dir;
  const TestPki pki(dir.path());
  pki.issue("server", "127.0.0.1", "IP:127.0.0.1");
  pki.issue("meter", "meter-7");
  DtlsGateway g(", tls: {cert_file: '" + pki.cert("server") + "', key_file: '" + pki.key("server") +
                "', ca_file: '" + pki.ca() + "', client_cert: required}");
  const std::string script =
      "(printf 'HELLO whoever\\n'; sleep 0.5; printf 'ping\\n'; sleep 1) | timeout 5 openssl "
      "s_client -dtls1_2 -quiet -connect 127.0.0.1:" +
      std::to_string(g.gw().port("lines")) + " -CAfile " + pki.ca() + " -verify_return_error" +
      " -cert " + pki.cert("meter") + " -key " + pki.key("meter") + " 2>&1";
  const auto out = run("/bin/sh", {"-c", script}, 10s).output;
  EXPECT_NE(out.find("WELCOME dev-7"), std::string::npos) << out;
  EXPECT_NE(out.find("MSG ping"), std::string::npos) << out;
}

// A device that reboots (or a NAT that hands its mapping on) says hello again from an address
// whose association is still up: once the new hello returns a cookie, a new session takes over
// (RFC 6347 4.2.8). The first client is killed, so it never sent close_notify.
TEST(Dtls, ANewHandshakeFromAnEstablishedAddressTakesItOver) {
  DtlsGateway g;
  const auto port = g.gw().port("lines");
  const auto local = " -bind 127.0.0.1:" + std::to_string(free_port(SOCK_DGRAM));
  const auto first = openssl_dtls_client(port, "sensor-9", kSecretKeyHex, local);
  ASSERT_NE(first.find("WELCOME dev-9"), std::string::npos) << first;
  const auto second = openssl_dtls_client(port, "sensor-9", kSecretKeyHex, local);
  EXPECT_NE(second.find("WELCOME dev-9"), std::string::npos) << second;
  EXPECT_NE(second.find("MSG ping"), std::string::npos) << second;
}

// A DTLS 1.2 ClientHello with no cookie, as a flood from spoofed addresses would send.
std::string client_hello() {
  std::string body;
  body += "\xfe\xfd";                          // DTLS 1.2
  body += std::string(32, '\x42');             // random
  body += '\0';                                // session id
  body += '\0';                                // cookie: none yet
  body += std::string("\x00\x02\xc0\xa8", 4);  // one suite: PSK-AES128-CCM8
  body += std::string("\x01\x00", 2);          // compression: null
  std::string hs;
  hs += '\x01';  // client_hello
  const auto n = body.size();
  const std::string len{'\0', static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
  hs += len;                         // length
  hs += std::string("\x00\x00", 2);  // message_seq
  hs += std::string(3, '\0');        // fragment_offset
  hs += len;                         // fragment_length
  hs += body;
  std::string rec;
  rec += '\x16';                // handshake
  rec += "\xfe\xfd";            // DTLS 1.2
  rec += std::string(8, '\0');  // epoch and sequence number
  rec += static_cast<char>(hs.size() >> 8);
  rec += static_cast<char>(hs.size() & 0xff);
  return rec + hs;
}

TEST(Dtls, ClientHellosWithoutACookieGetAHelloVerifyRequestAndLeaveNoState) {
  // One session is all the listener may hold: if any hello below had left state, the real client
  // after them would find no room.
  DtlsGateway g(", max_connections: 1");
  const auto port = g.gw().port("lines");
  const auto hello = client_hello();
  std::vector<std::unique_ptr<UdpPeer>> flood;
  for (int i = 0; i < 300; ++i) {
    flood.push_back(std::make_unique<UdpPeer>(port));
    flood.back()->send(hello);
  }
  int verify_requests = 0;
  for (auto& peer : flood) {
    const auto answer = peer->receive(1s);
    // A handshake record whose message is hello_verify_request (3), carrying a cookie.
    if (answer && answer->size() > 13 && (*answer)[0] == '\x16' && (*answer)[13] == '\x03') {
      ++verify_requests;
    }
  }
  EXPECT_EQ(verify_requests, 300);
  const auto out = openssl_dtls_client(port, "sensor-9", kSecretKeyHex);
  EXPECT_NE(out.find("WELCOME dev-9"), std::string::npos) << out;
}

}  // namespace
}  // namespace iotgw::test
