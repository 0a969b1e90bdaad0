#include "plugins/plugin_config.hpp"

#include <algorithm>

#include "iotgw/common/units.hpp"

namespace iotgw::plugins {

std::string_view config_type_name(iotgw_config_type type) {
  switch (type) {
    case IOTGW_CFG_STRING: return "string";
    case IOTGW_CFG_INT: return "int";
    case IOTGW_CFG_BOOL: return "bool";
    case IOTGW_CFG_DOUBLE: return "double";
    case IOTGW_CFG_DURATION: return "duration";
    case IOTGW_CFG_SIZE: return "size";
    case IOTGW_CFG_STRING_LIST: return "list of strings";
  }
  return "unknown";
}

namespace {

// Fills v from one scalar text; false when the text does not fit the type.
bool convert_scalar(iotgw_config_type type, const std::string& text, iotgw_config_value& v) {
  switch (type) {
    case IOTGW_CFG_STRING: return true;
    case IOTGW_CFG_INT: {
      auto i = parse_int(text);
      if (i) v.integer = *i;
      return i.has_value();
    }
    case IOTGW_CFG_BOOL: {
      auto b = parse_bool(text);
      if (b) v.integer = *b ? 1 : 0;
      return b.has_value();
    }
    case IOTGW_CFG_DOUBLE: {
      auto d = parse_double(text);
      if (d) v.number = *d;
      return d.has_value();
    }
    case IOTGW_CFG_DURATION: {
      auto d = parse_duration(text);
      if (d) v.integer = d->count();
      return d.has_value();
    }
    case IOTGW_CFG_SIZE: {
      auto s = parse_size(text);
      if (s && *s > static_cast<std::uint64_t>(INT64_MAX)) return false;
      if (s) v.integer = static_cast<std::int64_t>(*s);
      return s.has_value();
    }
    case IOTGW_CFG_STRING_LIST: return false;
  }
  return false;
}

std::string expected_form(iotgw_config_type type) {
  switch (type) {
    case IOTGW_CFG_INT: return "an integer";
    case IOTGW_CFG_BOOL: return "true or false";
    case IOTGW_CFG_DOUBLE: return "a number";
    case IOTGW_CFG_DURATION: return "a duration such as 500ms, 10s, 5m or 1h";
    case IOTGW_CFG_SIZE: return "a size such as 512, 64KB or 1MiB";
    case IOTGW_CFG_STRING_LIST: return "a list of strings";
    case IOTGW_CFG_STRING: return "a string";
  }
  return "a value";
}

// What a node that is not the expected scalar is, for "must be X, not Y".
std::string given_form(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "'" + n.Scalar() + "'";
}

std::vector<std::string> split_default_list(const char* text) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += *p;
    }
  }
  if (!cur.empty() || !out.empty()) out.push_back(cur);
  return out;
}

}  // namespace

std::unique_ptr<PluginConfig> PluginConfig::resolve(std::span<const iotgw_config_key> keys,
                                                    const config::PluginOptions& options,
                                                    const std::string& instance_name,
                                                    const std::string& what,
                                                    config::Diagnostics& diags) {
  const std::string file = options.mark.file;
  const std::size_t errors_before = diags.size();
  std::vector<std::string> valid;
  for (const auto& k : keys) valid.emplace_back(k.name);

  const bool present = options.node.IsDefined() && options.node.IsMap();
  if (present) {
    for (const auto& kv : options.node) {
      const auto key = kv.first.Scalar();
      if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
        diags.add(config::mark_of(file, kv.first),
                  what + ": unknown key '" + key + "' (valid: " +
                      (valid.empty() ? std::string("none") : join(valid, ", ")) + ")");
      }
    }
  }

  std::unique_ptr<PluginConfig> pc(new PluginConfig());  // private constructor
  pc->instance_name_ = instance_name;
  for (const auto& k : keys) {
    iotgw_config_value v{};
    v.key = k.name;
    v.type = k.type;
    const YAML::Node n = present ? options.node[k.name] : YAML::Node();
    const bool given = n.IsDefined() && !n.IsNull();
    std::vector<std::string> items;
    std::string text;
    if (given) {
      const config::Mark at = config::mark_of(file, n);
      if (k.type == IOTGW_CFG_STRING_LIST) {
        if (n.IsScalar()) {
          items.push_back(n.Scalar());
        } else if (n.IsSequence() && std::all_of(n.begin(), n.end(), [](const YAML::Node& i) {
                     return i.IsScalar();
                   })) {
          for (const auto& i : n) items.push_back(i.Scalar());
        } else {
          diags.add(at, what + ": '" + k.name + "' must be a list of strings, not " +
                            (n.IsMap() ? "a mapping" : "a list holding more than strings"));
          continue;
        }
      } else if (!n.IsScalar()) {
        diags.add(at, what + ": '" + k.name + "' must be " + expected_form(k.type) + ", not " +
                          given_form(n));
        continue;
      } else {
        text = n.Scalar();
        if (!convert_scalar(k.type, text, v)) {
          diags.add(at, what + ": '" + k.name + "' must be " + expected_form(k.type) + ", not " +
                            given_form(n));
          continue;
        }
      }
    } else if (k.default_value == nullptr) {
      diags.add(options.mark, what + ": missing required key '" + k.name + "' (" +
                                  std::string(config_type_name(k.type)) + ": " + k.doc + ")");
      continue;
    } else if (k.type == IOTGW_CFG_STRING_LIST) {
      items = split_default_list(k.default_value);
    } else {
      text = k.default_value;
      if (!convert_scalar(k.type, text, v)) {
        diags.add(options.mark, what + ": the plugin's default for '" + k.name + "' ('" + text +
                                    "') is not " + expected_form(k.type));
        continue;
      }
    }
    if (k.type == IOTGW_CFG_STRING_LIST) {
      text = join(items, ",");
      auto& ptrs = pc->lists_.emplace_back();
      for (auto& item : items) ptrs.push_back(pc->strings_.emplace_back(std::move(item)).c_str());
      v.items = ptrs.data();
      v.item_count = ptrs.size();
    }
    v.text = pc->strings_.emplace_back(std::move(text)).c_str();
    pc->values_.push_back(v);
  }
  if (diags.size() != errors_before) return nullptr;
  pc->config_.struct_size = sizeof(iotgw_config);
  pc->config_.instance_name = pc->instance_name_.c_str();
  pc->config_.values = pc->values_.data();
  pc->config_.count = pc->values_.size();
  pc->config_.value_size = sizeof(iotgw_config_value);
  return pc;
}

}  // namespace iotgw::plugins
