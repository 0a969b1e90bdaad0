/* `tag`: a test stage written in plain C against abi.h alone, and built with clang, to prove the
 * boundary is compiler- and language-independent. Upstream and/or downstream it changes the case
 * of the payload, adds an application property, stamps which build of it ran (`tag-build`, so a
 * test can see that a replaced .so runs its new code), and refuses payloads containing a marker.
 * As an authenticator it checks a shared password, a client certificate, and (built for ABI 1.3)
 * the transport and the WebSocket upgrade request's path and headers. */
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
  char* peer_prefix; /* authenticator: the start of the address devices must come from */
  int cert;          /* authenticator: the verified client certificate's CN must be the client id */
  char* transport;   /* authenticator (1.3): the transport the device must come over */
  char* path;        /* authenticator (1.3): the upgrade request's path, query included */
  char* header_name; /* authenticator (1.3): a header the upgrade request must carry ... */
  char* header_value; /* ... with this value */
} tag_stage;

static const iotgw_config_key keys[] = {
    {"mode", IOTGW_CFG_STRING, "none", "payload case: upper, lower or none"},
    {"property", IOTGW_CFG_STRING, "",
     "an application property k=v to add; system.k=v sets a system property (empty: none)"},
    {"direction", IOTGW_CFG_STRING, "up", "where it applies: up, down or both"},
    {"reject_if", IOTGW_CFG_STRING, "", "refuse payloads containing this text (empty: none)"},
    {"secret", IOTGW_CFG_STRING, "", "as an authenticator: the password every device must give"},
    {"peer_prefix", IOTGW_CFG_STRING, "",
     "as an authenticator: what the device's address must start with (empty: any)"},
    {"cert", IOTGW_CFG_STRING, "no",
     "as an authenticator, yes: a verified client certificate whose CN is the client id"},
#if IOTGW_ABI_MINOR >= 3
    {"transport", IOTGW_CFG_STRING, "",
     "as an authenticator: the transport devices must come over (empty: any)"},
    {"path", IOTGW_CFG_STRING, "",
     "as an authenticator: the WebSocket upgrade's path with its query (empty: any)"},
    {"header", IOTGW_CFG_STRING, "",
     "as an authenticator: name=value, a header the WebSocket upgrade must carry (empty: none)"},
#endif
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
  free(t->peer_prefix);
  free(t->transport);
  free(t->path);
  free(t->header_name);
  free(t->header_value);
  free(t);
}

/* A copy of a non-empty configured text, or NULL. */
static char* optional_str(const char* s) {
  return s[0] != '\0' ? dup_str(s, strlen(s)) : NULL;
}

/* Splits "k=v" into two copies; 0 when it is not of that form. */
static int split_pair(const char* text, char** key, char** value) {
  const char* eq = strchr(text, '=');
  if (eq == NULL || eq == text) return 0;
  *key = dup_str(text, (size_t)(eq - text));
  *value = dup_str(eq + 1, strlen(eq + 1));
  return 1;
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
  if (prop[0] != '\0' && !split_pair(prop, &t->prop_key, &t->prop_value)) {
    snprintf(error->message, sizeof error->message, "property '%s' is not key=value", prop);
    tag_destroy(t);
    return IOTGW_ERR_CONFIG;
  }
  t->reject_if = optional_str(value_of(config, "reject_if"));
  t->cert = strcmp(value_of(config, "cert"), "yes") == 0;
  t->secret = optional_str(value_of(config, "secret"));
  t->peer_prefix = optional_str(value_of(config, "peer_prefix"));
  t->transport = optional_str(value_of(config, "transport"));
  t->path = optional_str(value_of(config, "path"));
  const char* header = value_of(config, "header");
  if (header[0] != '\0' && !split_pair(header, &t->header_name, &t->header_value)) {
    snprintf(error->message, sizeof error->message, "header '%s' is not name=value", header);
    tag_destroy(t);
    return IOTGW_ERR_CONFIG;
  }
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

#if IOTGW_ABI_MINOR >= 3
static int same(iotgw_str s, const char* text) {
  return s.size == strlen(text) && (s.size == 0 || memcmp(s.data, text, s.size) == 0);
}

static int same_ignoring_case(iotgw_str s, const char* text) {
  if (s.size != strlen(text)) return 0;
  for (size_t i = 0; i < s.size; ++i) {
    char a = s.data[i], b = text[i];
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
    if (a != b) return 0;
  }
  return 1;
}

/* What the host says the transport saw (never what the adapter says): 0 with the reason if it
 * is not what the configuration asks for. */
static int transport_fits(const tag_stage* t, const iotgw_credentials* c, iotgw_error* reason) {
  if (t->transport != NULL && !same(c->transport, t->transport)) {
    snprintf(reason->message, sizeof reason->message, "transport '%.*s' is not %s",
             (int)c->transport.size, c->transport.data, t->transport);
    return 0;
  }
  if (t->path == NULL && t->header_name == NULL) return 1;
  const iotgw_http_upgrade* u = c->upgrade;
  if (u == NULL) {
    snprintf(reason->message, sizeof reason->message, "no WebSocket upgrade to check");
    return 0;
  }
  if (t->path != NULL && !same(u->path, t->path)) {
    snprintf(reason->message, sizeof reason->message, "upgrade path '%.*s' is not '%s'",
             (int)u->path.size, u->path.data, t->path);
    return 0;
  }
  if (t->header_name == NULL) return 1;
  for (size_t i = 0; i < u->header_count; ++i) {
    if (same_ignoring_case(u->headers[2 * i], t->header_name)) {
      if (same(u->headers[2 * i + 1], t->header_value)) return 1;
      snprintf(reason->message, sizeof reason->message, "upgrade header %s is '%.*s', not '%s'",
               t->header_name, (int)u->headers[2 * i + 1].size, u->headers[2 * i + 1].data,
               t->header_value);
      return 0;
    }
  }
  snprintf(reason->message, sizeof reason->message, "no upgrade header %s", t->header_name);
  return 0;
}
#endif

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
  if (t->peer_prefix != NULL && (credentials->peer_address.size < strlen(t->peer_prefix) ||
                                 memcmp(credentials->peer_address.data, t->peer_prefix,
                                        strlen(t->peer_prefix)) != 0)) {
    snprintf(reason->message, sizeof reason->message, "peer address '%.*s' is not %s*",
             (int)credentials->peer_address.size, credentials->peer_address.data, t->peer_prefix);
    return IOTGW_ERR_REFUSED;
  }
#if IOTGW_ABI_MINOR >= 3
  if (!transport_fits(t, credentials, reason)) return IOTGW_ERR_REFUSED;
#endif
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

/* Designated initializers: a later minor's new fields (psk_key took a reserved slot in 1.4) stay
 * zero, so this source builds against every header version. */
static const iotgw_stage_vtable vtable = {.struct_size = sizeof(iotgw_stage_vtable),
                                          .create = tag_create,
                                          .destroy = tag_destroy,
                                          .upstream = tag_upstream,
                                          .downstream = tag_downstream,
                                          .authenticate = tag_authenticate};

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
