// One object a plugin made from its configuration (a stage instance, or an adapter instance for
// a listener). Holds the plugin, so the library stays mapped while the object lives; destroys
// the object through the plugin's own destroy (whoever allocates frees).
#pragma once

#include <memory>
#include <string>

#include "iotgw/abi.h"
#include "iotgw/common/log.hpp"
#include "plugins/plugin.hpp"
#include "plugins/plugin_config.hpp"

struct iotgw_plugin_ctx {
  iotgw::Logger* log;
  std::string component;  // "stage shout", "listener lines"
};

namespace iotgw::runtime {

const iotgw_host_api& host_api();

template <class VTable>
class PluginInstance {
 public:
  // Calls the plugin's create. On refusal returns nullptr and sets error to the plugin's text.
  static std::shared_ptr<PluginInstance> create(std::shared_ptr<plugins::Plugin> plugin,
                                                const VTable& vtable,
                                                const plugins::PluginConfig& config,
                                                std::string component, Logger& log,
                                                std::string& error) {
    auto ctx = std::make_unique<iotgw_plugin_ctx>(iotgw_plugin_ctx{&log, std::move(component)});
    void* handle = nullptr;
    iotgw_error err{};
    const iotgw_status st = vtable.create(&host_api(), ctx.get(), config.c_config(), &handle, &err);
    if (st != IOTGW_OK || handle == nullptr) {
      error = err.message[0] != '\0' ? std::string(err.message) : "refused its configuration";
      return nullptr;
    }
    return std::shared_ptr<PluginInstance>(
        new PluginInstance(std::move(plugin), vtable, std::move(ctx), handle));
  }

  ~PluginInstance() { vtable_.destroy(handle_); }
  PluginInstance(const PluginInstance&) = delete;
  PluginInstance& operator=(const PluginInstance&) = delete;

  const VTable& vtable() const { return vtable_; }
  void* handle() const { return handle_; }
  const plugins::Plugin& plugin() const { return *plugin_; }
  const std::string& component() const { return ctx_->component; }

 private:
  PluginInstance(std::shared_ptr<plugins::Plugin> plugin, const VTable& vtable,
                 std::unique_ptr<iotgw_plugin_ctx> ctx, void* handle)
      : plugin_(std::move(plugin)), vtable_(vtable), ctx_(std::move(ctx)), handle_(handle) {}

  std::shared_ptr<plugins::Plugin> plugin_;  // first: the library outlives the object
  const VTable& vtable_;
  std::unique_ptr<iotgw_plugin_ctx> ctx_;
  void* handle_;
};

using StageInstance = PluginInstance<iotgw_stage_vtable>;
using AdapterInstance = PluginInstance<iotgw_adapter_vtable>;

}  // namespace iotgw::runtime
