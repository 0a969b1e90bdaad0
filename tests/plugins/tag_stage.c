/* `tag`: a test stage written in plain C against abi.h alone, and built with clang, to prove the
 * boundary is compiler- and language-independent. Upstream and/or downstream it changes the case
 * of the payload, adds an application property, stamps which build of it ran (`tag-build`, so a
 * test can see that a replaced .so runs its new code), and refuses payloads containing a marker.
 * As an authenticator it checks a shared password. */
#include <iotgw/abi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TAG_BUILD
#define TAG_BUILD 1
#endif
#define TAG_STR2(x) #x
#define TAG_STR(x) TAG_STR2(x)
#define TAG_BUILD_STR TAG_STR(TAG_BUILD)

enum { DIR_UP = 1, DIR_DOWN = 2 };
enum { CASE_NONE, CASE_UPPER, CASE_LOWER };

typedef struct tag_stage {
  const iotgw_host_api* api;
  int directions;
  int change_case;
  char* prop_key;
  char* prop_value;
  char* reject_if;
  char* secret;
  int cert; /* authenticator: the verified client certificate's CN must be the client id */
} tag_stage;

static const iotgw_config_key keys[] = {
    {"mode", IOTGW_CFG_STRING, "none", "payload case: upper, lower or none"},
    {"property", IOTGW_CFG_STRING, "",
     "an application property k=v to add; system.k=v sets a system property (empty: none)"},
    {"direction", IOTGW_CFG_STRING, "up", "where it applies: up, down or both"},
    {"reject_if", IOTGW_CFG_STRING, "", "refuse payloads containing this text (empty: none)"},
    {"secret", IOTGW_CFG_STRING, "", "as an authenticator: the password every device must give"},
    {"cert", IOTGW_CFG_STRING, "no",
     "as an authenticator, yes: a verified client certificate whose CN is the client id"},
};

static const char* value_of(const iotgw_config* c, const char* key) {
  for (size_t i = 0; i < c->count; ++i) {
#if IOTGW_ABI_MINOR >= 2
    const iotgw_config_value* v = iotgw_config_value_at(c, i);
#else /* built against the frozen 1.1 header (tests/abi/1.1), whose values are a plain array */
    const iotgw_config_value* v = &c->values[i];
#endif
    if (strcmp(v->key, key) == 0) return v->text;
  }
  return "";
}

static char* dup_str(const char* s, size_t n) {
  char* out = malloc(n + 1);
  if (out != NULL) {
    memcpy(out, s, n);
    out[n] = '\0';
  }
  return out;
}

static void tag_destroy(void* instance) {
  tag_stage* t = instance;
  if (t == NULL) return;
  free(t->prop_key);
  free(t->prop_value);
  free(t->reject_if);
  free(t->secret);
  free(t);
}

static iotgw_status tag_create(const iotgw_host_api* api, const iotgw_plugin_ctx* ctx,
                               const iotgw_config* config, void** instance, iotgw_error* error) {
  (void)ctx;
  tag_stage* t = calloc(1, sizeof *t);
  if (t == NULL) return IOTGW_ERR_INTERNAL;
  t->api = api;
  const char* mode = value_of(config, "mode");
  if (strcmp(mode, "upper") == 0) {
    t->change_case = CASE_UPPER;
  } else if (strcmp(mode, "lower") == 0) {
    t->change_case = CASE_LOWER;
  } else if (strcmp(mode, "none") != 0) {
    snprintf(error->message, sizeof error->message, "mode '%s' is not upper, lower or none", mode);
    tag_destroy(t);
    return IOTGW_ERR_CONFIG;
  }
  const char* dir = value_of(config, "direction");
  t->directions = strcmp(dir, "up") == 0     ? DIR_UP
                  : strcmp(dir, "down") == 0 ? DIR_DOWN
                  : strcmp(dir, "both") == 0 ? DIR_UP | DIR_DOWN
                                             : 0;
  if (t->directions == 0) {
    snprintf(error->message, sizeof error->message, "direction '%s' is not up, down or both", dir);
    tag_destroy(t);
    return IOTGW_ERR_CONFIG;
  }
  const char* prop = value_of(config, "property");
  if (prop[0] != '\0') {
    const char* eq = strchr(prop, '=');
    if (eq == NULL || eq == prop) {
      snprintf(error->message, sizeof error->message, "property '%s' is not key=value", prop);
      tag_destroy(t);
      return IOTGW_ERR_CONFIG;
    }
    t->prop_key = dup_str(prop, (size_t)(eq - prop));
    t->prop_value = dup_str(eq + 1, strlen(eq + 1));
  }
  const char* reject = value_of(config, "reject_if");
  t->reject_if = reject[0] != '\0' ? dup_str(reject, strlen(reject)) : NULL;
  t->cert = strcmp(value_of(config, "cert"), "yes") == 0;
  const char* secret = value_of(config, "secret");
  t->secret = secret[0] != '\0' ? dup_str(secret, strlen(secret)) : NULL;
  *instance = t;
  return IOTGW_OK;
}

static iotgw_str cstr(const char* s) {
  iotgw_str out = {s, strlen(s)};
  return out;
}

static iotgw_verdict transform(tag_stage* t, iotgw_msg* msg, iotgw_error* reason) {
  const iotgw_bytes body = t->api->msg_body(msg);
  if (t->reject_if != NULL) {
    const size_t n = strlen(t->reject_if);
    for (size_t i = 0; n <= body.size && i + n <= body.size; ++i) {
      if (memcmp(body.data + i, t->reject_if, n) == 0) {
        snprintf(reason->message, sizeof reason->message, "payload contains '%s'", t->reject_if);
        return IOTGW_REJECT;
      }
    }
  }
  if (t->change_case != CASE_NONE && body.size > 0) {
    uint8_t* out = t->api->msg_reserve_body(msg, body.size);
    for (size_t i = 0; i < body.size; ++i) {
      uint8_t c = body.data[i];
      if (t->change_case == CASE_UPPER && c >= 'a' && c <= 'z') c = (uint8_t)(c - 'a' + 'A');
      if (t->change_case == CASE_LOWER && c >= 'A' && c <= 'Z') c = (uint8_t)(c - 'A' + 'a');
      out[i] = c;
    }
    t->api->msg_commit_body(msg, body.size);
  }
  if (t->prop_key != NULL) {
    static const char kSystem[] = "system.";
    const int system = strncmp(t->prop_key, kSystem, sizeof kSystem - 1) == 0;
    t->api->msg_set(msg, system ? IOTGW_PROP_SYSTEM : IOTGW_PROP_APPLICATION,
                    cstr(system ? t->prop_key + sizeof kSystem - 1 : t->prop_key),
                    cstr(t->prop_value));
  }
  t->api->msg_set(msg, IOTGW_PROP_APPLICATION, cstr("tag-build"), cstr(TAG_BUILD_STR));
  return IOTGW_CONTINUE;
}

static iotgw_verdict tag_upstream(void* instance, iotgw_msg* msg, iotgw_error* reason) {
  tag_stage* t = instance;
  return (t->directions & DIR_UP) ? transform(t, msg, reason) : IOTGW_CONTINUE;
}

static iotgw_verdict tag_downstream(void* instance, iotgw_msg* msg, iotgw_error* reason) {
  tag_stage* t = instance;
  return (t->directions & DIR_DOWN) ? transform(t, msg, reason) : IOTGW_CONTINUE;
}

static iotgw_status tag_authenticate(void* instance, const iotgw_credentials* credentials,
                                     iotgw_identity* identity, iotgw_auth* request,
                                     iotgw_error* reason) {
  (void)request;
  tag_stage* t = instance;
  if (t->secret != NULL &&
      (credentials->password.size != strlen(t->secret) ||
       memcmp(credentials->password.data, t->secret, strlen(t->secret)) != 0)) {
    snprintf(reason->message, sizeof reason->message, "wrong password");
    return IOTGW_ERR_REFUSED;
  }
  if (t->cert) {
    if (credentials->cert_subject_cn.size == 0) {
      snprintf(reason->message, sizeof reason->message, "no verified client certificate");
      return IOTGW_ERR_REFUSED;
    }
    if (credentials->cert_subject_cn.size != credentials->client_id.size ||
        memcmp(credentials->cert_subject_cn.data, credentials->client_id.data,
               credentials->client_id.size) != 0) {
      snprintf(reason->message, sizeof reason->message, "certificate CN '%.*s' is not the device",
               (int)credentials->cert_subject_cn.size, credentials->cert_subject_cn.data);
      return IOTGW_ERR_REFUSED;
    }
  }
  identity->device_id = credentials->client_id;
  identity->auth_method = cstr(t->cert ? "x509" : "password");
  return IOTGW_OK;
}

static const iotgw_stage_vtable vtable = {
    sizeof(iotgw_stage_vtable), tag_create, tag_destroy, tag_upstream, tag_downstream,
    tag_authenticate,           {0}};

static const iotgw_plugin_descriptor descriptor = {
    sizeof(iotgw_plugin_descriptor),
    IOTGW_ABI_MAJOR,
    IOTGW_ABI_MINOR,
    "tag",
    "1.0." TAG_BUILD_STR,
    "test stage in C: case change, a property, a build stamp, a password check",
    IOTGW_KIND_STAGE,
    keys,
    sizeof keys / sizeof keys[0],
    NULL,
    &vtable,
#if IOTGW_ABI_MINOR >= 2
    sizeof(iotgw_config_key),
#endif
    {0}};

IOTGW_EXPORT const iotgw_plugin_descriptor* iotgw_plugin_entry(void) {
  return &descriptor;
}
