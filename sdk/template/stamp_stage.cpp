// A plugin template: copy this folder, rename the class and the plugin, keep the shape.
//
// `stamp` is a pipeline stage. On the way up (device to hub) it adds one application property to
// every message and refuses payloads over a size; on the way down it does nothing. The iotgw
// host loads it from its .so, checks the config keys declared below, and calls it for every
// message of every listener that lists it under `pipeline:`.
#include <iotgw/plugin.hpp>

#include <string>

namespace {

class Stamp final : public iotgw::StageBase {
 public:
  // Who the plugin is: `iotgw --list-plugins` shows these, and topologies name it by `name`.
  static constexpr const char* name = "stamp";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description = "adds a property to every upstream message";

  // Every key the plugin accepts, with type, default (nullptr: required) and a line of doc.
  // The host refuses unknown keys, checks types and applies defaults before the constructor
  // runs; `iotgw --describe stamp` prints this table.
  static constexpr iotgw_config_key config_keys[] = {
      {"key", IOTGW_CFG_STRING, "stamped-by", "application property to add"},
      {"value", IOTGW_CFG_STRING, nullptr, "its value (required)"},
      {"max_bytes", IOTGW_CFG_SIZE, "256KB", "refuse larger payloads"},
  };

  // Runs once per stage instance, when the topology is (re)loaded. Throw iotgw::Error to refuse
  // the configuration: the text reaches the operator with the file and line of the config.
  // Copy what you need: the Config is only lent for this call.
  Stamp(const iotgw::Context& ctx, const iotgw::Config& config)
      : StageBase(ctx),
        key_(config.string("key")),
        value_(config.string("value")),
        max_bytes_(config.size("max_bytes")) {
    if (key_.empty()) throw iotgw::Error("key must not be empty");
  }

  // Device to hub. Runs on the connection's event loop, possibly on several loops at once: do
  // not block and do not change instance state here.
  iotgw::Verdict upstream(iotgw::Message& msg, std::string& reason) override {
    if (msg.body().size() > max_bytes_) {
      reason = "payload of " + std::to_string(msg.body().size()) + " bytes is over " +
               std::to_string(max_bytes_);
      return iotgw::Verdict::reject;  // the device is told, with this reason
    }
    msg.set(iotgw::Scope::application, key_, value_);
    return iotgw::Verdict::proceed;
  }

 private:
  std::string key_;
  std::string value_;
  std::uint64_t max_bytes_;
};

}  // namespace

// The one line that makes the class a plugin: it exports the entry point the host looks for.
IOTGW_STAGE_PLUGIN(Stamp)
