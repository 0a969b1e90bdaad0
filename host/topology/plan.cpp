#include "topology/plan.hpp"

#include <algorithm>
#include <map>

#include "iotgw/common/units.hpp"
#include "plugins/plugin_config.hpp"
#include "transport/tls_context.hpp"

namespace iotgw::topology {

std::vector<plugins::Catalog::Folder> catalog_folders(const std::vector<config::PluginDir>& dirs) {
  std::vector<plugins::Catalog::Folder> folders;
  for (const auto& d : dirs) folders.push_back({d.path, d.required});
  return folders;
}

namespace {

bool any_folder(const config::GatewaySpec& gateway) {
  std::error_code ec;
  return std::any_of(gateway.plugin_dirs.begin(), gateway.plugin_dirs.end(),
                     [&](const auto& d) { return std::filesystem::is_directory(d.path, ec); });
}

std::string folder_list(const config::GatewaySpec& gateway) {
  std::string out;
  for (const auto& d : gateway.plugin_dirs) out += (out.empty() ? "" : ", ") + d.path.string();
  return out;
}

std::string available(const plugins::Catalog& catalog, iotgw_plugin_kind kind) {
  std::vector<std::string> names;
  for (const auto& p : catalog.all()) {
    if (p->kind() == kind) names.emplace_back(p->name());
  }
  return names.empty() ? std::string("none") : join(names, ", ");
}

// The plugin named by ref, if it exists and is of the wanted kind; reports otherwise.
std::shared_ptr<plugins::Plugin> find_plugin(const plugins::Catalog& catalog,
                                             const config::Ref& ref, iotgw_plugin_kind kind,
                                             const std::string& what, config::Diagnostics& diags) {
  auto plugin = catalog.find(ref.name);
  const std::string kind_str(plugins::kind_name(kind));
  if (!plugin) {
    if (const auto* broken = catalog.broken(ref.name)) {
      diags.add(ref.mark, what + ": plugin '" + ref.name +
                              "' did not load: " + broken->path.string() + ": " + broken->reason);
      return nullptr;
    }
    diags.add(ref.mark, what + ": unknown " + kind_str + " plugin '" + ref.name +
                            "' (available: " + available(catalog, kind) + ")");
    return nullptr;
  }
  if (plugin->kind() != kind) {
    diags.add(ref.mark, what + ": plugin '" + ref.name + "' is " +
                            std::string(plugins::kind_name(plugin->kind())) + ", not " + kind_str +
                            " (" + kind_str + " plugins: " + available(catalog, kind) + ")");
    return nullptr;
  }
  return plugin;
}

// Where a plugin's refusal belongs: at the key it starts with ("'max_packet' must ...", as the
// SDK's config map says it, or "max_packet must ..."), when the YAML gives that key; else at the
// options map.
config::Mark refusal_mark(const config::PluginOptions& options, const std::string& error) {
  if (!options.node.IsMap()) return options.mark;
  for (const auto& kv : options.node) {
    const auto key = kv.first.Scalar();
    if (error.starts_with("'" + key + "'") || error.starts_with(key + " ") ||
        error.starts_with(key + ":")) {
      return config::mark_of(options.mark.file, kv.first);
    }
  }
  return options.mark;
}

template <class VTable>
std::shared_ptr<runtime::PluginInstance<VTable>> instantiate(
    const std::shared_ptr<plugins::Plugin>& plugin, const VTable& vtable,
    const config::PluginOptions& options, const std::string& instance_name, const std::string& what,
    const std::string& component, Logger& log, config::Diagnostics& diags) {
  if (options.reported) return nullptr;  // its keys would all look missing
  auto cfg = plugins::PluginConfig::resolve(plugin->keys(), options, instance_name, what, diags);
  if (!cfg) return nullptr;
  std::string error;
  auto instance =
      runtime::PluginInstance<VTable>::create(plugin, vtable, *cfg, component, log, error);
  if (!instance) {
    diags.add(refusal_mark(options, error), what + ": plugin '" + std::string(plugin->name()) +
                                                "' refused the configuration: " + error);
  }
  return instance;
}

std::shared_ptr<const transport::WebSocketSettings> websocket_settings(
    const config::WebSocketSpec& spec) {
  auto ws = std::make_shared<transport::WebSocketSettings>();
  ws->path = spec.path;
  ws->subprotocols = spec.subprotocols;
  ws->origins = spec.origins;
  ws->max_upgrade_size = spec.max_upgrade_size;
  ws->upgrade_timeout = spec.upgrade_timeout;
  ws->max_message = spec.max_message;
  return ws;
}

}  // namespace

std::optional<Plan> build_plan(const config::Topology& model, const plugins::PrivateCopies& copies,
                               Logger& log, config::Diagnostics& diags,
                               metrics::Registry* registry) {
  const std::size_t errors_before = diags.size();
  Plan plan{model, {}, {}, {}};
  std::vector<plugins::LoadError> load_errors;
  plan.catalog =
      plugins::Catalog::scan(catalog_folders(model.gateway.plugin_dirs), copies, load_errors);
  bool folder_failed = false;
  for (const auto& e : load_errors) {
    // A file that does not load fails only the entries naming its plugin (find_plugin).
    const auto& dirs = model.gateway.plugin_dirs;
    auto dir =
        std::find_if(dirs.begin(), dirs.end(), [&](const auto& d) { return d.path == e.path; });
    if (dir != dirs.end()) {
      diags.add(dir->mark, e.str());
      folder_failed = true;
    } else {
      log.warn("plugins", e.str() + " (skipped)");
    }
  }
  if (folder_failed) return std::nullopt;  // every plugin would be "unknown": that says it all
  if (plan.catalog.all().empty() && !any_folder(model.gateway)) {
    diags.add(
        model.gateway.plugin_dirs.empty() ? config::Mark{} : model.gateway.plugin_dirs[0].mark,
        "no plugins folder: looked in " + folder_list(model.gateway) +
            " (set gateway.plugins_dir or --plugins-dir)");
    return std::nullopt;
  }

  std::map<std::string, std::shared_ptr<runtime::StageInstance>> stages;
  for (const auto& s : model.stages) {
    const std::string what = "stage '" + s.name + "'";
    auto plugin = find_plugin(plan.catalog, s.plugin, IOTGW_KIND_STAGE, what, diags);
    if (!plugin) continue;
    auto inst = instantiate(plugin, *plugin->descriptor().stage, s.config, s.name, what,
                            "stage " + s.name, log, diags);
    if (!inst) continue;
    stages[s.name] = inst;
    plan.stages.push_back(inst);
  }

  for (const auto& l : model.listeners) {
    const std::string what = "listener '" + l.name + "'";
    bool complete = true;
    // The stages refs name, each checked for the role it is listed in.
    auto collect = [&](const std::vector<config::Ref>& refs, auto fits, const char* problem) {
      std::vector<runtime::StageRef> out;
      for (const auto& ref : refs) {
        auto it = stages.find(ref.name);
        if (it == stages.end()) {
          complete = false;  // the stage itself failed; already reported
        } else if (!fits(it->second->vtable())) {
          diags.add(ref.mark, what + ": stage '" + ref.name + "' " + problem + " (plugin '" +
                                  std::string(it->second->plugin().name()) + "')");
          complete = false;
        } else {
          out.push_back({ref.name, it->second,
                         registry != nullptr
                             ? std::make_shared<const runtime::StageMetrics>(*registry, ref.name)
                             : nullptr});
        }
      }
      return out;
    };
    auto auth = collect(
        l.auth, [](const iotgw_stage_vtable& v) { return v.authenticate != nullptr; },
        "cannot authenticate");
    auto transforms = collect(
        l.pipeline,
        [](const iotgw_stage_vtable& v) {
          return v.upstream != nullptr || v.downstream != nullptr;
        },
        "transforms nothing: list it under auth");
    auto plugin = find_plugin(plan.catalog, l.adapter, IOTGW_KIND_ADAPTER, what, diags);
    if (!plugin) continue;
    config::PluginOptions options = l.options;
    if (!options.node.IsDefined() || options.node.IsNull()) options.mark = l.mark;
    auto adapter = instantiate(plugin, *plugin->descriptor().adapter, options, l.name, what,
                               "listener " + l.name, log, diags);
    if (!adapter || !complete) continue;
    if (auth.empty()) {
      log.warn("config", what + " has no auth stages: devices are trusted as they name themselves");
    }
    ListenerPlan lp;
    if (l.transport == "ws" || l.transport == "wss") lp.websocket = websocket_settings(l.websocket);
    if (l.transport == "tls" || l.transport == "wss" || l.transport == "dtls") {
      transport::TlsServerSettings tls;
      tls.cert_file = l.tls.cert_file;
      tls.key_file = l.tls.key_file;
      tls.ca_file = l.tls.ca_file;
      using Mode = transport::TlsServerSettings::ClientCert;
      tls.client_cert = l.tls.client_cert == "required"   ? Mode::required
                        : l.tls.client_cert == "optional" ? Mode::optional
                                                          : Mode::none;
      tls.tls13_only = l.tls.min_version == "1.3";
      try {
        if (l.transport == "dtls") {
          lp.dtls = std::make_shared<const transport::DtlsContext>(tls);
        } else {
          lp.tls = transport::make_tls_context(tls);
        }
      } catch (const std::exception& e) {
        diags.add(l.mark, what + ": " + e.what());
        continue;
      }
    }
    lp.spec = l;
    lp.adapter = adapter;
    lp.pipeline = std::make_shared<const runtime::Pipeline>(std::move(auth), std::move(transforms));
    lp.shape = plugin->hash() + "|" + l.transport + "|" + l.tls.str() + "|" + l.websocket.str() +
               "|" + l.udp.str() + "|" + l.bind.str() + "|" + std::to_string(l.max_connections) +
               "|" + std::to_string(l.max_connections_per_address) + "|" +
               std::to_string(l.max_connection_rate) + "|" +
               std::to_string(l.max_pending_handshakes) + "|" +
               std::to_string(l.device_message_rate) + "|" + std::to_string(l.device_byte_rate) +
               (l.proxy_v2 ? "|proxy-v2" : "") + "|" + l.options.fingerprint();
    plan.listeners.push_back(std::move(lp));
  }
  if (diags.size() != errors_before) return std::nullopt;
  return plan;
}

}  // namespace iotgw::topology
