// `map`: claims messages by topic template and reshapes their properties. Upstream, a message
// whose MQTT topic (or, without one, the device's IoT Hub telemetry topic) matches `topic` gets
// the template's variables as application properties, then `properties` set, `rename`d and
// `remove`d, a default content type, and in the bridge's `amqp` flavour its target address
// (`to`, from the same variables). Downstream, `c2d_topic` is filled from the C2D message's
// application properties and deviceId, and the MQTT adapter publishes the message there to a
// device subscribed to a matching filter. Several map stages in a pipeline are several mappings:
// the first that matches claims the message, each way. Templates are checked when the stage is
// built.
#include <iotgw/plugin.hpp>

#include "topic_template.hpp"

namespace {

using iotgw::map::TopicTemplate;
using iotgw::map::Vars;

std::pair<std::string, std::string> split_pair(const std::string& item, const char* key) {
  const auto eq = item.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw iotgw::Error(std::string(key) + ": '" + item + "' is not name=value");
  }
  return {item.substr(0, eq), item.substr(eq + 1)};
}

class Map final : public iotgw::StageBase {
 public:
  static constexpr const char* name = "map";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "topic templates to properties, property renames and defaults, amqp target addresses";
  static constexpr iotgw_config_key config_keys[] = {
      {"topic", IOTGW_CFG_STRING, "",
       "template the topic must match, e.g. sensors/{building}/{room} or "
       "devices/{deviceId}/messages/events/{*}; empty: every message"},
      {"properties", IOTGW_CFG_STRING_LIST, "",
       "application properties to set, name=value; values may use {variables} and {deviceId}"},
      {"rename", IOTGW_CFG_STRING_LIST, "", "application properties to rename, old=new"},
      {"remove", IOTGW_CFG_STRING_LIST, "", "application properties to remove"},
      {"content_type", IOTGW_CFG_STRING, "", "content type for messages that carry none"},
      {"to", IOTGW_CFG_STRING, "",
       "target address (bridge flavour amqp), e.g. /exchange/amq.topic/{building}.{room}"},
      {"c2d_topic", IOTGW_CFG_STRING, "",
       "topic for C2D messages, from their application properties and {deviceId}, e.g. "
       "commands/{deviceId}/{command}; a message lacking a property is left to other mappings"},
  };

  Map(const iotgw::Context& ctx, const iotgw::Config& config) : StageBase(ctx) {
    try {
      if (const auto t = config.string("topic"); !t.empty()) topic_.emplace(t);
    } catch (const std::invalid_argument& e) {
      throw iotgw::Error(e.what());
    }
    for (const auto& item : config.list("properties"))
      set_.push_back(split_pair(item, "properties"));
    for (const auto& item : config.list("rename")) rename_.push_back(split_pair(item, "rename"));
    remove_ = config.list("remove");
    content_type_ = config.string("content_type");
    to_ = config.string("to");
    c2d_topic_ = config.string("c2d_topic");
    // Every {variable} the strings use must come from the template (or be deviceId): found
    // here, not on the first message.
    Vars probe{{"deviceId", ""}, {"*", ""}};
    if (topic_) {
      for (const auto& n : topic_->variables()) probe[n] = "";
    }
    try {
      for (const auto& [k, v] : set_) iotgw::map::fill(v, probe);
      if (!to_.empty()) iotgw::map::fill(to_, probe);
      if (!c2d_topic_.empty()) {
        c2d_names_ = iotgw::map::variables(c2d_topic_);
        Vars own;
        for (const auto& n : c2d_names_) own[n] = "x";
        const auto sample = iotgw::map::fill(c2d_topic_, own);
        if (sample.find_first_of("+#") != std::string::npos || sample.starts_with("devices/") ||
            sample.starts_with("$")) {
          throw std::invalid_argument("c2d_topic '" + c2d_topic_ +
                                      "' has MQTT wildcards or is under IoT Hub's devices/ or $");
        }
      }
    } catch (const std::invalid_argument& e) {
      throw iotgw::Error(e.what());
    }
  }

  iotgw::Verdict upstream(iotgw::Message& msg, std::string& reason) override {
    const std::string device(msg.device_id());
    const auto mqtt_topic = msg.get(iotgw::Scope::annotation, "mqtt-topic");
    const std::string topic =
        mqtt_topic ? std::string(*mqtt_topic) : "devices/" + device + "/messages/events";
    Vars vars;
    if (topic_) {
      auto m = topic_->match(topic);
      if (!m) return iotgw::Verdict::proceed;  // another mapping's, or none's
      vars = std::move(*m);
      if (auto d = vars.find("deviceId"); d != vars.end() && d->second != device) {
        reason = "map: topic '" + topic + "' names device '" + d->second + "'";
        return iotgw::Verdict::reject;
      }
    }
    vars["deviceId"] = device;
    msg.remove(iotgw::Scope::annotation, "iotgw-unmapped");
    for (const auto& [k, v] : vars) {
      if (k != "deviceId" && k != "*") msg.set(iotgw::Scope::application, k, v);
    }
    for (const auto& [k, v] : set_)
      msg.set(iotgw::Scope::application, k, iotgw::map::fill(v, vars));
    for (const auto& [from, to] : rename_) {
      if (auto v = msg.get(iotgw::Scope::application, from)) {
        const std::string value(*v);
        msg.remove(iotgw::Scope::application, from);
        msg.set(iotgw::Scope::application, to, value);
      }
    }
    for (const auto& k : remove_) msg.remove(iotgw::Scope::application, k);
    if (!content_type_.empty() && !msg.get(iotgw::Scope::system, "content-type")) {
      msg.set(iotgw::Scope::system, "content-type", content_type_);
    }
    if (!to_.empty()) msg.set(iotgw::Scope::system, "to", iotgw::map::fill(to_, vars));
    return iotgw::Verdict::proceed;
  }

  iotgw::Verdict downstream(iotgw::Message& msg, std::string& reason) override {
    if (c2d_topic_.empty() || msg.get(iotgw::Scope::annotation, "mqtt-topic")) {
      return iotgw::Verdict::proceed;  // not a C2D mapping, or another claimed it
    }
    Vars vars{{"deviceId", std::string(msg.device_id())}};
    for (const auto& n : c2d_names_) {
      if (n == "deviceId") continue;
      const auto v = msg.get(iotgw::Scope::application, n);
      if (!v) return iotgw::Verdict::proceed;  // another mapping's, or the devicebound topic
      // One property fills one topic level: a '/' or a wildcard would make it another topic.
      if (v->empty() || v->find_first_of("/+#") != std::string_view::npos) {
        reason = "map: C2D property '" + n + "' = '" + std::string(*v) +
                 "' cannot be one topic level of " + c2d_topic_;
        return iotgw::Verdict::reject;
      }
      vars[n] = std::string(*v);
    }
    msg.set(iotgw::Scope::annotation, "mqtt-topic", iotgw::map::fill(c2d_topic_, vars));
    return iotgw::Verdict::proceed;
  }

 private:
  std::optional<TopicTemplate> topic_;
  std::vector<std::pair<std::string, std::string>> set_, rename_;
  std::vector<std::string> remove_;
  std::string content_type_, to_, c2d_topic_;
  std::vector<std::string> c2d_names_;
};

}  // namespace

IOTGW_STAGE_PLUGIN(Map)
