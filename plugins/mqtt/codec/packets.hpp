// MQTT control packets as values: what the decoder produces and the encoder consumes. MQTT 5
// adds properties and reason codes; 3.1.1 code leaves them empty and never reads them, and the
// encoder writes them only for a connection at level 5 (the level travels with the connection,
// never inside these structs' meaning).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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
  auth = 15,  // MQTT 5 only; reserved before
};

// 3 is MQTT 3.1 ("MQIsdp"), 4 is 3.1.1 ("MQTT"), 5 is MQTT 5.
enum class ProtocolLevel : std::uint8_t { v31 = 3, v311 = 4, v5 = 5 };

// MQTT 5 properties (section 2.2.2.2), each as its type on the wire. Which packet may carry which
// is the codec's check: a decoded packet holds only what its type allows.
struct PacketProperties {
  std::optional<std::uint8_t> payload_format;   // 0: bytes, 1: UTF-8
  std::optional<std::uint32_t> message_expiry;  // seconds
  std::optional<std::string> content_type;
  std::optional<std::string> response_topic;
  std::optional<std::string> correlation_data;  // binary
  std::vector<std::uint32_t> subscription_ids;
  std::optional<std::uint32_t> session_expiry;  // seconds; 0xFFFFFFFF: never
  std::optional<std::string> assigned_client_id;
  std::optional<std::uint16_t> server_keep_alive;
  std::optional<std::string> auth_method;
  std::optional<std::string> auth_data;
  std::optional<std::uint8_t> request_problem_info;
  std::optional<std::uint32_t> will_delay;
  std::optional<std::uint8_t> request_response_info;
  std::optional<std::string> response_info;
  std::optional<std::string> server_reference;
  std::optional<std::string> reason_string;
  std::optional<std::uint16_t> receive_maximum;
  std::optional<std::uint16_t> topic_alias_maximum;
  std::optional<std::uint16_t> topic_alias;
  std::optional<std::uint8_t> maximum_qos;
  std::optional<std::uint8_t> retain_available;
  std::vector<std::pair<std::string, std::string>> user;
  std::optional<std::uint32_t> maximum_packet_size;
  std::optional<std::uint8_t> wildcard_available;
  std::optional<std::uint8_t> subscription_ids_available;
  std::optional<std::uint8_t> shared_available;
};

struct Will {
  std::string topic;
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  PacketProperties props = {};  // MQTT 5
};

struct Connect {
  std::string protocol_name = "MQTT";  // "MQIsdp" for 3.1
  std::uint8_t level = 4;              // as sent: the engine refuses what it does not serve
  std::string client_id;
  bool clean_session = true;     // MQTT 5: clean start
  std::uint16_t keep_alive = 0;  // seconds; 0: none
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary data
  PacketProperties props = {};          // MQTT 5
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
  ConnectCode code = ConnectCode::accepted;  // MQTT 3.1.1
  std::uint8_t reason = 0;                   // MQTT 5 (reason_codes.hpp)
  PacketProperties props = {};               // MQTT 5
};

struct Publish {
  std::string topic;  // MQTT 5: empty when a topic alias stands for it
  std::string payload;
  std::uint8_t qos = 0;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;  // QoS 1 and 2 only
  PacketProperties props = {};  // MQTT 5
};

// PUBACK, PUBREC, PUBREL, PUBCOMP: a packet id, and in MQTT 5 a reason code and properties.
struct Ack {
  PacketType type = PacketType::puback;
  std::uint16_t packet_id = 0;
  std::uint8_t reason = 0;      // MQTT 5
  PacketProperties props = {};  // MQTT 5
};

struct Subscription {
  std::string filter;
  std::uint8_t qos = 0;
  // MQTT 5 subscription options.
  bool no_local = false;
  bool retain_as_published = false;
  std::uint8_t retain_handling = 0;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  std::vector<Subscription> subscriptions;
  PacketProperties props = {};  // MQTT 5
};

inline constexpr std::uint8_t kSubackFailure = 0x80;

struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> codes;  // granted QoS per filter, or a failure (>= 0x80)
  PacketProperties props = {};      // MQTT 5
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;
  PacketProperties props = {};  // MQTT 5
};

struct Unsuback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> codes;  // MQTT 5: one per filter; 3.1.1 has none
  PacketProperties props = {};      // MQTT 5
};

// PINGREQ and PINGRESP: the type alone.
struct Bare {
  PacketType type = PacketType::pingreq;
};

// 3.1.1's carries nothing; MQTT 5's a reason code and properties, from either side.
struct Disconnect {
  std::uint8_t reason = 0;
  PacketProperties props = {};
};

// MQTT 5 enhanced authentication, which this adapter does not offer: decoded to be refused.
struct Auth {
  std::uint8_t reason = 0;
  PacketProperties props = {};
};

using Packet = std::variant<Connect, Connack, Publish, Ack, Subscribe, Suback, Unsubscribe,
                            Unsuback, Bare, Disconnect, Auth>;

}  // namespace iotgw::mqtt
