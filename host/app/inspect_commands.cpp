// --check, --list-plugins, --describe and --describe-topology: they read and load, and serve
// nothing.
#include <cstdio>
#include <iostream>

#include "app/commands.hpp"
#include "app/topology_source.hpp"
#include "config/schema.hpp"
#include "iotgw/common/units.hpp"
#include "plugins/catalog.hpp"
#include "plugins/plugin_config.hpp"
#include "topology/plan.hpp"

namespace iotgw::app {

namespace {

constexpr int kInvalid = 2;

int report(const config::Diagnostics& diags) {
  std::cerr << diags.str();
  std::cerr << diags.size() << (diags.size() == 1 ? " error" : " errors") << "\n";
  return kInvalid;
}

std::optional<plugins::Catalog> scan(const Options& options, const plugins::PrivateCopies& copies,
                                     config::Diagnostics& diags) {
  auto dirs = plugin_dirs(options, diags);
  if (!dirs) return std::nullopt;
  std::vector<plugins::LoadError> errors;
  auto catalog = plugins::Catalog::scan(topology::catalog_folders(*dirs), copies, errors);
  for (const auto& e : errors) diags.add({"--plugins-dir", 0, 0}, e.str());
  return catalog;
}

// One key as --describe and --describe-topology print it. tools/gen-config-reference reads this
// shape into docs/configuration.md: change them together.
void print_key(std::string_view name, std::string_view type, std::string_view presence,
               std::string_view doc) {
  std::cout << "  " << name << " (" << type << ", " << presence << ")\n      " << doc << "\n";
}

std::string defaulted(std::string_view value) {
  return "default '" + std::string(value) + "'";
}

}  // namespace

int run_check(const Options& options, Logger& log) {
  config::Diagnostics diags;
  // Past topology errors too, so that one run also reports what the plugins refuse.
  auto topology = load_topology(options, diags, true);
  if (!topology) return report(diags);
  plugins::PrivateCopies copies;
  auto plan = topology::build_plan(*topology, copies, log, diags);
  if (!plan || !diags.empty()) return report(diags);
  std::cout << options.config_file << ": OK (" << plan->catalog.all().size() << " plugins, "
            << plan->stages.size() << " stages, " << plan->listeners.size() << " listeners)\n";
  return 0;
}

int run_list_plugins(const Options& options, Logger& /*log*/) {
  config::Diagnostics diags;
  plugins::PrivateCopies copies;
  auto catalog = scan(options, copies, diags);
  if (catalog) {
    std::printf("%-16s %-8s %-10s %-5s %s\n", "NAME", "KIND", "VERSION", "ABI", "PATH");
    for (const auto& p : catalog->all()) {
      const auto& d = p->descriptor();
      const std::string abi = std::to_string(d.abi_major) + "." + std::to_string(d.abi_minor);
      std::printf("%-16s %-8s %-10s %-5s %s\n", d.name,
                  std::string(plugins::kind_name(d.kind)).c_str(), d.version, abi.c_str(),
                  p->path().c_str());
    }
  }
  if (!diags.empty()) return report(diags);
  return 0;
}

int run_describe(const Options& options, Logger& /*log*/) {
  config::Diagnostics diags;
  plugins::PrivateCopies copies;
  auto catalog = scan(options, copies, diags);
  if (!catalog) return report(diags);
  auto plugin = catalog->find(options.describe);
  if (!plugin) {
    std::cerr << "no plugin named '" << options.describe << "'";
    std::vector<std::string> names;
    for (const auto& p : catalog->all()) names.emplace_back(p->name());
    std::cerr << " (found: " << (names.empty() ? "none" : join(names, ", ")) << ")\n";
    if (!diags.empty()) std::cerr << diags.str();
    return kInvalid;
  }
  const auto& d = plugin->descriptor();
  std::cout << d.name << " " << d.version << " (" << plugins::kind_name(d.kind) << ", ABI "
            << d.abi_major << "." << d.abi_minor << ")\n"
            << d.description << "\n"
            << plugin->path().string() << "\n\n";
  if (plugin->keys().empty()) {
    std::cout << "takes no configuration keys\n";
    return 0;
  }
  std::cout << (d.kind == IOTGW_KIND_ADAPTER ? "listener options:\n" : "stage config:\n");
  for (const auto& k : plugin->keys()) {
    print_key(k.name, plugins::config_type_name(k.type),
              k.default_value == nullptr ? "required" : defaulted(k.default_value), k.doc);
  }
  return 0;
}

int run_describe_topology() {
  std::cout << "topology keys, by section (a listener's options and a stage's config: iotgw "
               "--describe PLUGIN)\n";
  for (const auto& section : config::schema::sections()) {
    std::cout << "\n" << section.name << ": " << section.doc << "\n";
    for (const auto& k : section.keys) {
      const std::string type =
          k.choices.empty() ? std::string(k.type) : "one of " + std::string(k.choices);
      std::string presence = "optional";  // absent: off, or the caller's own default
      if (k.required) presence = "required";
      if (!k.default_value.empty()) presence = defaulted(k.default_value);
      print_key(k.name, type, presence, k.doc);
    }
  }
  return 0;
}

}  // namespace iotgw::app
