// `line`: a text protocol adapter, one line in = one message upstream. Talk to it with netcat:
//
//   HELLO <device-id> [password]   ->  WELCOME <device-id>  |  DENIED <reason> (then closed)
//   <any text>                     ->  ACK <n>  |  NACK <n> <reason>   (n counts lines from 1)
//   (a message for the device)     <-  MSG <body> [k=v,...]   (its application properties)
//
// Operations (ABI 1.2; a build against older headers has none of these):
//   TWIN GET | TWIN REPORT <json> | TWIN WATCH | TWIN UNWATCH
//                                  ->  TWIN <status> [v=<version>] [<body>]
//   METHODS ON | METHODS OFF       ->  METHODS <status>
//   (a desired-property patch)     <-  DESIRED v=<version> <json>
//   (a method call)                <-  CALL <id> <method> <json>
//   ANSWER <id> <status> <json>    ->  (nothing; ANSWER-FAILED <id> if the call is gone)
//
// Small on purpose: it shows the whole adapter contract (authentication, upstream with the
// hub's outcome, downstream with settlement, pause at an in-flight limit, timers, drain) in a
// protocol simple enough to read in one sitting.
#include <iotgw/plugin.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace {

constexpr std::uint32_t kIdleTimer = 1;

struct Options {
  std::size_t max_line;
  std::size_t max_inflight;
  std::chrono::milliseconds idle_timeout;
  std::string greeting;
};

class LineConnection final : public iotgw::AdapterConnection {
 public:
  LineConnection(iotgw::Connection conn, const Options& options)
      : AdapterConnection(conn), options_(options) {
    if (!options_.greeting.empty()) connection().write(options_.greeting + "\n");
    arm_idle();
  }

  std::size_t on_bytes(std::span<const std::uint8_t> data) override {
    const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
    std::size_t used = 0;
    // Stops at our own in-flight limit, or when the bridge holds this device's messages.
    while (used < text.size() && !paused_ && !connection().reading_paused()) {
      const auto eol = text.find('\n', used);
      if (eol == std::string_view::npos) {
        if (text.size() - used > options_.max_line) {
          throw iotgw::Error("line longer than " + std::to_string(options_.max_line) + " bytes");
        }
        break;
      }
      std::string_view line = text.substr(used, eol - used);
      if (line.size() > options_.max_line) {
        throw iotgw::Error("line longer than " + std::to_string(options_.max_line) + " bytes");
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      used = eol + 1;
      arm_idle();
      handle_line(line);
    }
    return used;
  }

  void on_auth_result(std::uint64_t, iotgw_status status, const iotgw_identity* identity,
                      const char* reason) override {
    authenticating_ = false;
    if (status != IOTGW_OK) {
      connection().write("DENIED " + std::string(reason != nullptr ? reason : "refused") + "\n");
      connection().close("authentication refused");
      return;
    }
    device_ = std::string(iotgw::to_view(identity->device_id));
    connection().set_downstream(true);
    connection().write("WELCOME " + device_ + "\n");
    paused_ = false;
    connection().resume_reading();
  }

  void on_upstream_result(std::uint64_t token, iotgw_outcome outcome, const char* reason) override {
    --in_flight_;
    const auto numbered = line_of_.find(token);
    const std::uint64_t line_no = numbered != line_of_.end() ? numbered->second : 0;
    if (numbered != line_of_.end()) line_of_.erase(numbered);
    if (outcome == IOTGW_ACCEPTED) {
      connection().write("ACK " + std::to_string(line_no) + "\n");
    } else {
      connection().write("NACK " + std::to_string(line_no) + " " +
                         (reason != nullptr ? reason : "not accepted") + "\n");
    }
    if (paused_ && in_flight_ < options_.max_inflight) {
      paused_ = false;
      connection().resume_reading();
    }
    if (draining_ && in_flight_ == 0) connection().close("drained");
  }

  void on_downstream(const iotgw::Message& msg, std::uint64_t delivery) override {
    std::string out = "MSG ";
    out += msg.body();
    std::string props;
    msg.for_each(iotgw::Scope::application, [&](std::string_view k, std::string_view v) {
      if (!props.empty()) props += ',';
      props.append(k).append("=").append(v);
    });
    if (!props.empty()) out += " [" + props + "]";
    out += "\n";
    connection().write(out);
    connection().settle(delivery, IOTGW_ACCEPTED);
  }

#if IOTGW_ABI_MINOR >= 2
  void on_operation_result(std::uint64_t token, const iotgw::OperationResult& r) override {
    auto it = operations_.find(token);
    if (it == operations_.end()) return;
    std::string out = it->second + " " + std::to_string(r.status);
    operations_.erase(it);
    if (r.version >= 0) out += " v=" + std::to_string(r.version);
    if (!r.body.empty()) out += " " + one_line(r.body);
    if (!r.reason.empty()) out += " (" + std::string(r.reason) + ")";
    connection().write(out + "\n");
  }

  void on_hub_request(const iotgw::HubRequest& r) override {
    if (r.kind == IOTGW_HUB_DESIRED_PATCH) {
      connection().write("DESIRED v=" + std::to_string(r.version) + " " + one_line(r.body) + "\n");
    } else if (r.kind == IOTGW_HUB_METHOD_CALL) {
      connection().write("CALL " + std::to_string(r.id) + " " + std::string(r.name) + " " +
                         one_line(r.body) + "\n");
    }
  }
#endif

  void on_timer(std::uint32_t id) override {
    if (id == kIdleTimer) connection().close("idle timeout");
  }

  void on_drain() override {
    draining_ = true;
    if (in_flight_ == 0) connection().close("drained");
  }

 private:
  void handle_line(std::string_view line) {
    if (device_.empty()) {
      hello(line);
      return;
    }
#if IOTGW_ABI_MINOR >= 2
    if (operation(line)) return;
#endif
    auto msg = connection().new_message();
    msg.set_body(line);
    std::uint64_t token = 0;
    ++lines_;
    if (connection().send_upstream(std::move(msg), IOTGW_QOS_AT_LEAST_ONCE, token) != IOTGW_OK) {
      throw iotgw::Error("upstream refused the message");
    }
    // Operations take tokens too: ACK numbers count message lines, so each token keeps its own.
    line_of_[token] = lines_;
    if (++in_flight_ >= options_.max_inflight) {
      paused_ = true;
      connection().pause_reading();
    }
  }

#if IOTGW_ABI_MINOR >= 2
  // The lines that are operations, not messages; false for any other line.
  bool operation(std::string_view line) {
    static constexpr std::pair<std::string_view, iotgw_op_kind> kCommands[] = {
        {"TWIN GET", IOTGW_OP_TWIN_GET},
        {"TWIN REPORT ", IOTGW_OP_TWIN_PATCH_REPORTED},
        {"TWIN WATCH", IOTGW_OP_TWIN_WATCH_DESIRED},
        {"TWIN UNWATCH", IOTGW_OP_TWIN_UNWATCH_DESIRED},
        {"METHODS ON", IOTGW_OP_METHODS_ENABLE},
        {"METHODS OFF", IOTGW_OP_METHODS_DISABLE},
    };
    if (line.starts_with("ANSWER ")) {
      answer(line.substr(7));
      return true;
    }
    for (const auto& [command, kind] : kCommands) {
      const bool takes_body = command.back() == ' ';
      if (takes_body ? !line.starts_with(command) : line != command) continue;
      std::uint64_t token = 0;
      const auto st =
          connection().request(kind, takes_body ? line.substr(command.size()) : "", token);
      const std::string family(command.substr(0, command.find(' ')));
      if (st != IOTGW_OK) {
        connection().write(family + " 503 (the host refused the operation)\n");
      } else {
        operations_[token] = family;
      }
      return true;
    }
    return false;
  }

  // ANSWER <id> <status> <json>
  void answer(std::string_view rest) {
    const auto s1 = rest.find(' ');
    const auto s2 = s1 == std::string_view::npos ? s1 : rest.find(' ', s1 + 1);
    const std::string id(rest.substr(0, s1));
    std::uint64_t call = 0;
    int status = 0;
    try {
      call = std::stoull(id);
      status = std::stoi(std::string(rest.substr(s1 + 1, s2 - s1 - 1)));
    } catch (const std::exception&) {
      connection().write("ANSWER-FAILED " + id + " (expected ANSWER <id> <status> <json>)\n");
      return;
    }
    const auto body = s2 == std::string_view::npos ? std::string_view() : rest.substr(s2 + 1);
    if (connection().respond(call, status, body) != IOTGW_OK) {
      connection().write("ANSWER-FAILED " + id + "\n");
    }
  }

  // A JSON body on one line: the protocol is line-based.
  static std::string one_line(std::string_view text) {
    std::string out(text);
    std::replace(out.begin(), out.end(), '\n', ' ');
    return out;
  }
#endif

  void hello(std::string_view line) {
    if (authenticating_) throw iotgw::Error("a line arrived before WELCOME");
    if (line.substr(0, 6) != "HELLO ") throw iotgw::Error("expected HELLO <device-id> [password]");
    line.remove_prefix(6);
    const auto space = line.find(' ');
    const std::string_view id = line.substr(0, space);
    const std::string_view password =
        space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    iotgw_credentials creds{};
    creds.struct_size = sizeof creds;
    creds.client_id = iotgw::to_c(id);
    creds.username = iotgw::to_c(id);
    creds.password = {reinterpret_cast<const std::uint8_t*>(password.data()), password.size()};
    if (!connection().authenticate(creds)) throw iotgw::Error("cannot authenticate now");
    authenticating_ = true;
    // Lines sent right behind HELLO wait in the host's buffer until the answer is in.
    paused_ = true;
    connection().pause_reading();
  }

  void arm_idle() {
    if (options_.idle_timeout.count() > 0)
      connection().set_timer(kIdleTimer, options_.idle_timeout);
  }

  const Options& options_;
  std::string device_;
  bool authenticating_ = false;
  bool paused_ = false;
  bool draining_ = false;
  std::size_t in_flight_ = 0;
  std::uint64_t lines_ = 0;
  std::map<std::uint64_t, std::uint64_t> line_of_;  // in flight: token -> message line number
#if IOTGW_ABI_MINOR >= 2
  std::map<std::uint64_t, std::string> operations_;  // token -> the command family to answer
#endif
};

class LineAdapter final : public iotgw::AdapterBase {
 public:
  static constexpr const char* name = "line";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "text lines: HELLO <device> [password], then one message per line";
  static constexpr iotgw_config_key config_keys[] = {
      {"max_line", IOTGW_CFG_SIZE, "64KB",
       "longest line accepted; a longer one closes the connection"},
      {"max_inflight", IOTGW_CFG_INT, "16", "unacknowledged lines before reading pauses"},
      {"idle_timeout", IOTGW_CFG_DURATION, "0", "close a connection silent this long (0: never)"},
      {"greeting", IOTGW_CFG_STRING, "", "a line sent when a connection opens (empty: none)"},
  };

  LineAdapter(const iotgw::Context& ctx, const iotgw::Config& config) : AdapterBase(ctx) {
    options_.max_line = config.size("max_line");
    options_.max_inflight = static_cast<std::size_t>(config.integer("max_inflight", 1, 65535));
    options_.idle_timeout = config.duration("idle_timeout");
    options_.greeting = config.string("greeting");
    if (options_.max_line == 0) throw iotgw::Error("max_line must be at least 1 byte");
  }

  std::unique_ptr<iotgw::AdapterConnection> open(iotgw::Connection conn,
                                                 const iotgw_conn_info&) override {
    return std::make_unique<LineConnection>(conn, options_);
  }

 private:
  Options options_;
};

}  // namespace

IOTGW_ADAPTER_PLUGIN(LineAdapter)
