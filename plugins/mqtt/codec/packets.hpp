// MQTT control packets as values: what the decoder produces and the encoder consumes. Shaped so
// MQTT 5 adds fields (properties, reason codes) without changing what 3.1.1 code reads: the
// protocol level travels with the connection, never inside these structs' meaning.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace iotgw::mqtt {

enum class PacketType : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

// 3 is MQTT 3.1 ("MQIsdp"), 4 is 3.1.1 ("MQTT"), 5 is MQTT 5 (not served yet).
enum class ProtocolLevel : std::uint8_t { v31 = 3, v311 = 4, v5 = 5 };

struct Will {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
};

struct Connect {
  std::string protocol_name = "MQTT";  // "MQIsdp" for 3.1
  std::uint8_t level = 4;              // as sent: the engine refuses what it does not serve
  std::string client_id;
  bool clean_session = true;
  std::uint16_t keep_alive = 0;  // seconds; 0: none
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary data
};

// CONNACK return codes (3.1.1 section 3.2.2.3).
enum class ConnectCode : std::uint8_t {
  accepted = 0,
  unacceptable_protocol = 1,
  identifier_rejected = 2,
  server_unavailable = 3,
  bad_credentials = 4,
  not_authorized = 5,
};

struct Connack {
  bool session_present = false;
  ConnectCode code = ConnectCode::accepted;
};

struct Publish {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;  // QoS 1 and 2 only
};

// PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: a packet id and nothing else in 3.1.1.
struct Ack {
  PacketType type = PacketType::puback;
  std::uint16_t packet_id = 0;
};

struct Subscription {
  std::string filter;
  std::uint8_t qos = 0;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<Subscription> subscriptions;
};

inline constexpr std::uint8_t kSubackFailure = 0x80;

struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> codes;  // granted QoS per filter, or kSubackFailure
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;
};

// PINGREQ, PINGRESP, DISCONNECT: the type alone.
struct Bare {
  PacketType type = PacketType::pingreq;
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe, Bare>;

}  // namespace iotgw::mqtt
