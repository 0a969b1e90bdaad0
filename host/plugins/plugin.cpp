#include "plugins/plugin.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <system_error>
#include <type_traits>

#include "config/map_reader.hpp"

namespace iotgw::plugins {

namespace fs = std::filesystem;

std::string_view kind_name(iotgw_plugin_kind kind) {
  switch (kind) {
    case IOTGW_KIND_ADAPTER: return "adapter";
    case IOTGW_KIND_STAGE: return "stage";
  }
  return "unknown";
}

namespace {

// A plugin built before 1.2 says no element size: its keys have the 1.1 layout, which is the
// four fields every later layout starts with.
constexpr std::size_t kKeySize11 = offsetof(iotgw_config_key, doc) + sizeof(const char*);

std::size_t key_stride(const iotgw_plugin_descriptor& d) {
  return d.abi_minor >= 2 && d.config_key_size > 0 ? d.config_key_size : kKeySize11;
}

// The index-th declared key; fields past what the plugin's layout holds stay zero.
iotgw_config_key key_at(const iotgw_plugin_descriptor& d, std::size_t index) {
  const std::size_t stride = key_stride(d);
  iotgw_config_key key{};
  std::memcpy(&key, reinterpret_cast<const char*>(d.config_keys) + index * stride,
              std::min(stride, sizeof key));
  return key;
}

}  // namespace

Plugin::Plugin(boost::dll::shared_library lib, const iotgw_plugin_descriptor* descriptor,
               fs::path path, std::string hash)
    : lib_(std::move(lib)),
      descriptor_(descriptor),
      path_(std::move(path)),
      hash_(std::move(hash)) {
  keys_.reserve(descriptor->config_key_count);
  for (std::size_t i = 0; i < descriptor->config_key_count; ++i) {
    keys_.push_back(key_at(*descriptor, i));
  }
}

PrivateCopies::PrivateCopies() {
  std::string templ = (fs::temp_directory_path() / "iotgw-plugins-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "cannot make " + templ);
  }
  dir_ = templ;
}

PrivateCopies::~PrivateCopies() {
  std::error_code ec;
  fs::remove_all(dir_, ec);  // mapped libraries stay valid after their file is unlinked
}

namespace {

std::string version_str(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

bool looks_like_elf(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 4 && magic[0] == 0x7f && magic[1] == 'E' && magic[2] == 'L' &&
         magic[3] == 'F';
}

// Boost.DLL keeps only an error code; dlerror's text (which symbol is missing, which ELF class)
// is what an operator needs, so ask the dynamic loader again for it.
std::string dlopen_reason(const fs::path& file) {
  dlerror();
  void* handle = dlopen(file.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (handle != nullptr) {
    dlclose(handle);
    return "the dynamic loader refused it";
  }
  const char* err = dlerror();
  return err != nullptr ? err : "the dynamic loader refused it";
}

// Copies file to the private folder under a name made from its hash; reuses an existing copy.
std::optional<fs::path> private_copy(const fs::path& file, const std::string& hash,
                                     const PrivateCopies& copies, std::string& error) {
  const fs::path target = copies.dir() / (hash.substr(0, 16) + "-" + file.filename().string());
  std::error_code ec;
  if (fs::exists(target, ec)) return target;
  const fs::path tmp = target.string() + ".tmp";
  fs::copy_file(file, tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(tmp, target, ec);
  if (ec) {
    error = "cannot copy to " + target.string() + ": " + ec.message();
    return std::nullopt;
  }
  return target;
}

// `other` is the table of the other kind: set, it is most likely the kind the author meant.
template <class VTable>
std::optional<std::string> check_vtable(const VTable* vt, const char* what, const void* other,
                                        const char* other_kind) {
  if (vt == nullptr) {
    const std::string given = other != nullptr ? std::string("it has ") + other_kind +
                                                     " table instead: was the kind meant to be " +
                                                     other_kind + "?"
                                               : std::string("neither table is set");
    return std::string("declares kind ") + what + " but has no " + what + " table (" + given + ")";
  }
  if (vt->struct_size < offsetof(VTable, reserved)) {
    return std::string(what) + " table is " + std::to_string(vt->struct_size) +
           " bytes, at least " + std::to_string(offsetof(VTable, reserved)) + " expected";
  }
  if (vt->create == nullptr || vt->destroy == nullptr) {
    return std::string(what) + " table lacks create or destroy";
  }
  return std::nullopt;
}

std::optional<std::string> check_descriptor(const iotgw_plugin_descriptor& d) {
  // The ABI first: nothing else in the descriptor means anything if the versions differ.
  if (d.abi_major != IOTGW_ABI_MAJOR || d.abi_minor > IOTGW_ABI_MINOR) {
    return "ABI " + version_str(IOTGW_ABI_MAJOR, IOTGW_ABI_MINOR) +
           " expected (same major, minor at most " + std::to_string(IOTGW_ABI_MINOR) +
           "), plugin built for " + version_str(d.abi_major, d.abi_minor);
  }
  if (d.struct_size < offsetof(iotgw_plugin_descriptor, reserved)) {
    return "descriptor is " + std::to_string(d.struct_size) + " bytes, at least " +
           std::to_string(offsetof(iotgw_plugin_descriptor, reserved)) + " expected";
  }
  if (d.name == nullptr || !config::valid_name(d.name)) {
    return "descriptor has no valid name (letters, digits, '_', '-', '.')";
  }
  if (d.version == nullptr || d.description == nullptr)
    return "descriptor lacks version or description";
  if (d.config_key_count > 0 && d.config_keys == nullptr)
    return "descriptor counts config keys it does not list";
  if (key_stride(d) < kKeySize11) {
    return "config keys are " + std::to_string(key_stride(d)) + " bytes each, at least " +
           std::to_string(kKeySize11) + " expected";
  }
  for (std::size_t i = 0; i < d.config_key_count; ++i) {
    const auto k = key_at(d, i);
    const std::string key = "config key #" + std::to_string(i + 1);
    if (k.name == nullptr) return key + " has no name";
    if (k.doc == nullptr) return key + " '" + k.name + "' has no doc";
    // Read as its bytes: a plugin's value need not be one of the enum's, and loading it as the
    // enum would be undefined behaviour (UBSan says so).
    std::underlying_type_t<iotgw_config_type> type = 0;
    std::memcpy(&type, &k.type, sizeof type);
    if (type < IOTGW_CFG_STRING || type > IOTGW_CFG_STRING_LIST) {
      return key + " '" + k.name + "' has type " + std::to_string(type) +
             ", not one of " + std::to_string(IOTGW_CFG_STRING) + " (IOTGW_CFG_STRING) to " +
             std::to_string(IOTGW_CFG_STRING_LIST) + " (IOTGW_CFG_STRING_LIST)";
    }
  }
  switch (d.kind) {
    case IOTGW_KIND_ADAPTER: {
      if (auto e = check_vtable(d.adapter, "adapter", d.stage, "a stage")) return e;
      if (d.adapter->open == nullptr || d.adapter->on_bytes == nullptr ||
          d.adapter->close == nullptr) {
        return "adapter table lacks open, on_bytes or close";
      }
      return std::nullopt;
    }
    case IOTGW_KIND_STAGE: return check_vtable(d.stage, "stage", d.adapter, "an adapter");
  }
  return "unknown plugin kind " + std::to_string(static_cast<int>(d.kind));
}

}  // namespace

std::variant<std::shared_ptr<Plugin>, LoadError> load_plugin(const fs::path& file,
                                                             const PrivateCopies& copies) {
  auto fail = [&](std::string reason) { return LoadError{file, std::move(reason)}; };
  if (!looks_like_elf(file)) return fail("not a shared object (no ELF header)");
  const std::string hash = file_sha256(file);
  if (hash.empty()) return fail("cannot read the file");
  std::string copy_error;
  auto copy = private_copy(file, hash, copies, copy_error);
  if (!copy) return fail(copy_error);

  boost::dll::shared_library lib;
  boost::system::error_code ec;
  lib.load(boost::dll::fs::path(copy->string()),
           boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local, ec);
  if (ec) return fail("cannot load: " + dlopen_reason(*copy));
  if (!lib.has(IOTGW_ENTRY_SYMBOL)) {
    return fail("no entry point '" IOTGW_ENTRY_SYMBOL
                "' (C++: end the plugin with IOTGW_ADAPTER_PLUGIN(Class) or "
                "IOTGW_STAGE_PLUGIN(Class); C: define IOTGW_EXPORT const "
                "iotgw_plugin_descriptor* " IOTGW_ENTRY_SYMBOL
                "(void), with IOTGW_EXPORT: the rest is hidden)");
  }
  auto entry = lib.get<const iotgw_plugin_descriptor*()>(IOTGW_ENTRY_SYMBOL);
  const iotgw_plugin_descriptor* d = entry();
  if (d == nullptr) return fail("entry point returned no descriptor");
  if (auto problem = check_descriptor(*d)) return fail(*problem);
  return std::make_shared<Plugin>(std::move(lib), d, file, hash);
}

}  // namespace iotgw::plugins
