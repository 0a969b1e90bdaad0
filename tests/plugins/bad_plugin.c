/* Plugins that are wrong in one way each (BAD_CASE), for the loader's failure tests. */
#include <iotgw/abi.h>

#include <stddef.h>

#define NO_ENTRY 1
#define WRONG_MAJOR 2
#define NEWER_MINOR 3
#define UNDEFINED_SYMBOL 4
#define NULL_DESCRIPTOR 5
#define MISSING_VTABLE 6
#define WRONG_KIND 7       /* says adapter, fills the stage table */
#define UNKNOWN_KEY_TYPE 8 /* a config key of a type no ABI has */
#define HIDDEN_ENTRY 9     /* the entry point without IOTGW_EXPORT, hidden by -fvisibility */

#if BAD_CASE == NO_ENTRY
IOTGW_EXPORT int not_an_iotgw_plugin(void) {
  return 42;
}
#elif BAD_CASE == UNDEFINED_SYMBOL
/* A data symbol nothing defines: the dynamic loader must resolve it at load time, and fails. */
extern int iotgw_symbol_nobody_defines;
IOTGW_EXPORT int* iotgw_plugin_entry(void) {
  return &iotgw_symbol_nobody_defines;
}
#elif BAD_CASE == HIDDEN_ENTRY
const iotgw_plugin_descriptor* iotgw_plugin_entry(void) {
  return NULL;
}
#elif BAD_CASE == NULL_DESCRIPTOR
IOTGW_EXPORT const iotgw_plugin_descriptor* iotgw_plugin_entry(void) {
  return NULL;
}
#else
static iotgw_status create(const iotgw_host_api* api, const iotgw_plugin_ctx* ctx,
                           const iotgw_config* config, void** instance, iotgw_error* error) {
  (void)api, (void)ctx, (void)config, (void)error;
  *instance = NULL;
  return IOTGW_ERR_INTERNAL;
}
static void destroy(void* instance) {
  (void)instance;
}
static const iotgw_stage_vtable vtable = {
    .struct_size = sizeof(iotgw_stage_vtable), .create = create, .destroy = destroy};
#if BAD_CASE == UNKNOWN_KEY_TYPE
static const iotgw_config_key keys[] = {{"level", (iotgw_config_type)9, "1", "a level"}};
#define KEYS keys
#define KEY_COUNT 1
#else
#define KEYS NULL
#define KEY_COUNT 0
#endif
static const iotgw_plugin_descriptor descriptor = {sizeof(iotgw_plugin_descriptor),
#if BAD_CASE == WRONG_MAJOR
                                                   IOTGW_ABI_MAJOR + 1,
                                                   0,
#elif BAD_CASE == NEWER_MINOR
                                                   IOTGW_ABI_MAJOR,
                                                   IOTGW_ABI_MINOR + 1,
#else
                                                   IOTGW_ABI_MAJOR,
                                                   IOTGW_ABI_MINOR,
#endif
                                                   "bad",
                                                   "0.0.1",
                                                   "a broken plugin",
#if BAD_CASE == WRONG_KIND
                                                   IOTGW_KIND_ADAPTER,
#else
                                                   IOTGW_KIND_STAGE,
#endif
                                                   KEYS,
                                                   KEY_COUNT,
                                                   NULL,
#if BAD_CASE == MISSING_VTABLE
                                                   NULL,
#else
                                                   &vtable,
#endif
                                                   sizeof(iotgw_config_key),
                                                   {0}};
IOTGW_EXPORT const iotgw_plugin_descriptor* iotgw_plugin_entry(void) {
  return &descriptor;
}
#endif
