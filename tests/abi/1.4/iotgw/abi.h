/*
 * iotgw plugin ABI: the only contract between the iotgw host and a plugin shared object.
 *
 * Only C types cross this boundary, so a plugin built by any C or C++ compiler loads into any
 * host of the same ABI major version. Rules that keep it stable:
 *  - Every struct starts with `struct_size`; the reader checks it before touching later fields, and
 *    structs only ever grow at their end (the `reserved` slots make room for that).
 *  - Whoever allocates frees. Strings and byte views passed into a call are borrowed for that call
 *    only; copy what you keep.
 *  - No exception crosses the boundary (the C++ layer in plugin.hpp catches them).
 *  - Arrays of structs say their element size (config_key_size, value_size), so their elements
 *    can grow too: read element i at byte i * size, never as a C array of your own sizeof.
 *  - C plugins fill the tables below with designated initializers (.create = ...): a later minor
 *    may give a reserved slot a name, and positional initializers would then stop compiling.
 *  - A minor version adds; a major version breaks. The host loads a plugin whose major equals its
 *    own and whose minor is not newer than its own. Fields and callbacks marked "since 1.N" are
 *    zero or NULL in a plugin built for an older minor, and the host never calls what it lacks.
 *  - After a connection's close callback returns, no host function may be called with that
 *    connection, and no pointer the host lent for it may be used (see `close` below for the one
 *    exception).
 *
 * Threads: the host runs one event loop per core. Calls for one connection (adapter connection
 * callbacks, and every host function that takes an iotgw_conn) happen on that connection's loop
 * and must be made from it. Instance-level callbacks (stage transforms, authenticate, adapter
 * open) may run on several loops at once: keep instance state read-only after create.
 */
#ifndef IOTGW_ABI_H
#define IOTGW_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOTGW_ABI_MAJOR 1
#define IOTGW_ABI_MINOR 4

/* The one symbol a plugin exports: `const iotgw_plugin_descriptor* iotgw_plugin_entry(void)`. */
#define IOTGW_ENTRY_SYMBOL "iotgw_plugin_entry"

#if defined(_WIN32)
#define IOTGW_EXPORT __declspec(dllexport)
#else
#define IOTGW_EXPORT __attribute__((visibility("default")))
#endif

typedef enum iotgw_status {
  IOTGW_OK = 0,
  IOTGW_PENDING = 1,         /* the answer comes later through a callback */
  IOTGW_ERR_CONFIG = 2,      /* configuration refused; the error text says why */
  IOTGW_ERR_PROTOCOL = 3,    /* the peer broke its protocol; the connection closes */
  IOTGW_ERR_REFUSED = 4,     /* not allowed (credentials, authorisation) */
  IOTGW_ERR_UNAVAILABLE = 5, /* upstream unreachable or busy; try again later */
  IOTGW_ERR_LIMIT = 6,       /* a configured limit was reached */
  IOTGW_ERR_STATE = 7,       /* the call does not fit the object's state (closed connection...) */
  IOTGW_ERR_INTERNAL = 8
} iotgw_status;

typedef enum iotgw_log_level {
  IOTGW_LOG_TRACE = 0,
  IOTGW_LOG_DEBUG = 1,
  IOTGW_LOG_INFO = 2,
  IOTGW_LOG_WARN = 3,
  IOTGW_LOG_ERROR = 4
} iotgw_log_level;

/* A borrowed string: not NUL-terminated unless said otherwise. */
typedef struct iotgw_str {
  const char* data;
  size_t size;
} iotgw_str;

/* Borrowed bytes. */
typedef struct iotgw_bytes {
  const uint8_t* data;
  size_t size;
} iotgw_bytes;

/* A fixed buffer a plugin fills with a NUL-terminated reason when it refuses something. */
#define IOTGW_ERROR_CAPACITY 512
typedef struct iotgw_error {
  char message[IOTGW_ERROR_CAPACITY];
} iotgw_error;

/* ---------------------------------------------------------------------------------------------
 * Configuration. A plugin declares every key it accepts; the host rejects unknown keys (naming the
 * valid ones), checks types, applies defaults and hands the plugin canonical values.
 */
typedef enum iotgw_config_type {
  IOTGW_CFG_STRING = 1,
  IOTGW_CFG_INT = 2,        /* 64-bit signed; `integer` */
  IOTGW_CFG_BOOL = 3,       /* `integer` is 0 or 1 */
  IOTGW_CFG_DOUBLE = 4,     /* `number` */
  IOTGW_CFG_DURATION = 5,   /* "250ms", "30s", "5m", "2h" or plain milliseconds; `integer` in ms */
  IOTGW_CFG_SIZE = 6,       /* "512", "64KB", "1MiB"...; `integer` in bytes */
  IOTGW_CFG_STRING_LIST = 7 /* a YAML sequence of scalars; `items` */
} iotgw_config_type;

/* An element of iotgw_plugin_descriptor.config_keys, whose config_key_size gives its size. Later
 * minors add fields at its end; a plugin's initialisers that omit them leave them zero. */
typedef struct iotgw_config_key {
  const char* name;
  iotgw_config_type type;
  const char* default_value; /* NULL: the key is required. For lists: comma-separated. */
  const char* doc;           /* one line, shown by `iotgw --describe` */
} iotgw_config_key;

typedef struct iotgw_config_value {
  const char* key;
  iotgw_config_type type;
  const char* text; /* canonical text of the value (lists: items joined by ',') */
  int64_t integer;
  double number;
  const char* const* items;
  size_t item_count;
} iotgw_config_value;

/* Every declared key is present, in declaration order, with its default when the YAML omits it. */
typedef struct iotgw_config {
  uint32_t struct_size;
  const char* instance_name; /* the stage or listener name from the topology */
  const iotgw_config_value* values;
  size_t count;
  /* Since 1.2: the size of one element of `values` (at least the plugin's sizeof). */
  size_t value_size;
} iotgw_config;

/* The index-th value, whatever size the host's elements have (since 1.2). */
static inline const iotgw_config_value* iotgw_config_value_at(const iotgw_config* config,
                                                              size_t index) {
  const size_t stride =
      config->struct_size > offsetof(iotgw_config, value_size) && config->value_size > 0
          ? config->value_size
          : sizeof(iotgw_config_value);
#ifdef __cplusplus
  return reinterpret_cast<const iotgw_config_value*>(reinterpret_cast<const char*>(config->values) +
                                                     index * stride);
#else
  return (const iotgw_config_value*)((const char*)config->values + index * stride);
#endif
}

/* ---------------------------------------------------------------------------------------------
 * Opaque handles, owned by the host.
 */
typedef struct iotgw_plugin_ctx iotgw_plugin_ctx; /* one per instance; for logging */
typedef struct iotgw_conn iotgw_conn;             /* one device-side connection */
typedef struct iotgw_msg iotgw_msg;               /* one message in flight */
typedef struct iotgw_auth iotgw_auth;             /* one pending authentication request */

/* Which bag of a message a property lives in (AMQP's sections). */
typedef enum iotgw_prop_scope {
  IOTGW_PROP_SYSTEM = 0,      /* message-id, correlation-id, content-type, content-encoding,
                                 user-id, to, absolute-expiry-time, subject, reply-to; and
                                 downstream, delivery-count: how often the hub says it delivered
                                 the message before ("0": never; more: send it marked as a
                                 possible duplicate, as MQTT's DUP) */
  IOTGW_PROP_APPLICATION = 1, /* user properties */
  IOTGW_PROP_ANNOTATION = 2   /* message annotations */
} iotgw_prop_scope;

typedef enum iotgw_qos {
  IOTGW_QOS_AT_MOST_ONCE = 0, /* pre-settled; no completion callback */
  IOTGW_QOS_AT_LEAST_ONCE = 1 /* completion callback with the hub's outcome */
} iotgw_qos;

/* The hub's outcome for an upstream message, and a device's outcome for a downstream one. */
typedef enum iotgw_outcome {
  IOTGW_ACCEPTED = 0,
  IOTGW_REJECTED = 1, /* will never be accepted; the reason says why */
  IOTGW_RELEASED = 2, /* not processed; may be sent again */
  IOTGW_MODIFIED = 3  /* not processed, delivery failed; may be sent again */
} iotgw_outcome;

/* What a transform decides for one message. */
typedef enum iotgw_verdict {
  IOTGW_CONTINUE = 0,
  IOTGW_DROP = 1,  /* silently discard (reported upstream as accepted) */
  IOTGW_REJECT = 2 /* refuse with the reason in iotgw_error */
} iotgw_verdict;

/* The HTTP request that upgraded a ws or wss connection to WebSocket (since 1.3), as the host
 * accepted it. Borrowed like the struct that points to it. */
typedef struct iotgw_http_upgrade {
  uint32_t struct_size;
  iotgw_str path;           /* as requested, with the query: "/$iothub/websocket?x=1" */
  iotgw_str subprotocol;    /* the one the host chose from the client's offer and echoed */
  const iotgw_str* headers; /* name,value pairs: 2*i is a name, 2*i+1 its value, as sent */
  size_t header_count;      /* pairs, so headers holds 2 * header_count strings */
  void* reserved[4];
} iotgw_http_upgrade;

/* What a device presents when it connects, handed to the listener's authenticators. */
typedef struct iotgw_credentials {
  uint32_t struct_size;
  iotgw_str client_id;
  iotgw_str username;
  iotgw_bytes password;
  iotgw_str peer_address;    /* "ip:port" */
  iotgw_str cert_subject_cn; /* verified TLS client certificate, or empty */
  iotgw_str cert_sha256;     /* hex thumbprint of that certificate, or empty */
  /* Since 1.3, filled by the host from what the transport saw, never from what an adapter
   * passes: NULL unless the transport is ws or wss. */
  const iotgw_http_upgrade* upgrade;
  iotgw_str transport; /* since 1.3: "tcp", "tls", "ws", "wss"; since 1.4 also "udp", "dtls" */
  void* reserved[1];
  /* Since 1.4 (check struct_size): the PSK identity a DTLS handshake was completed with, so the
   * key behind it was proven; empty otherwise. Filled by the host, like transport. */
  iotgw_str psk_identity;
} iotgw_credentials;

/* Who a device is once authenticated. */
typedef struct iotgw_identity {
  uint32_t struct_size;
  iotgw_str device_id;
  iotgw_str module_id;   /* may be empty */
  iotgw_str auth_method; /* "sas", "x509", "password", "anonymous"... for logs and the hub */
  iotgw_str hub_token;   /* a SAS token to present upstream for this device, or empty */
  void* reserved[4];
} iotgw_identity;

/* Facts about a new connection. */
typedef struct iotgw_conn_info {
  uint32_t struct_size;
  iotgw_str listener;      /* listener name */
  iotgw_str peer_address;  /* "ip:port" */
  iotgw_str local_address; /* "ip:port" */
  int tls;                 /* 1 when the transport is TLS */
  iotgw_str cert_subject_cn;
  iotgw_str cert_sha256;
  const iotgw_http_upgrade* upgrade; /* since 1.3: NULL unless the transport is ws or wss */
  iotgw_str transport; /* since 1.3: "tcp", "tls", "ws", "wss"; since 1.4 also "udp", "dtls" */
  void* reserved[1];
  iotgw_str psk_identity; /* since 1.4 (check struct_size): as in iotgw_credentials */
} iotgw_conn_info;

/* ---------------------------------------------------------------------------------------------
 * Operations (since 1.2): request/response exchanges with the hub beside messages, each correlated
 * by a token. An adapter asks with request_upstream and hears the answer in on_operation_result;
 * the hub tells (a desired-property change) or asks (a method call) through on_hub_request, and the
 * adapter answers a call with respond. Bodies are JSON, as IoT Hub's twin and method surfaces take
 * and give them.
 *
 * Pipeline stages do not see operations. Twin documents and method payloads must stay JSON the hub
 * reads, and transforms written for messages (compress, encrypt, map topics) would break them; a
 * stage that encrypts telemetry end to end leaves twin and methods in the clear to the hub, as
 * IoT Hub itself must read them. The listener's authenticators still decide who the device is:
 * operations need an authenticated connection, as send_upstream does.
 */
typedef enum iotgw_op_kind {
  IOTGW_OP_TWIN_GET = 1,            /* the twin: body {"desired":{...},"reported":{...}} */
  IOTGW_OP_TWIN_PATCH_REPORTED = 2, /* body: a JSON object merged into the reported properties;
                                       the result carries the twin's new reported version */
  IOTGW_OP_TWIN_WATCH_DESIRED = 3,  /* desired-property changes arrive through on_hub_request */
  IOTGW_OP_TWIN_UNWATCH_DESIRED = 4,
  IOTGW_OP_METHODS_ENABLE = 5, /* method calls arrive through on_hub_request */
  IOTGW_OP_METHODS_DISABLE = 6
} iotgw_op_kind;

typedef struct iotgw_op_request {
  uint32_t struct_size;
  iotgw_op_kind kind;
  iotgw_bytes body;    /* empty for kinds that take none */
  uint64_t timeout_ms; /* 0: the host's default (30 s) */
  void* reserved[4];
} iotgw_op_request;

/* The answer to an operation. `status` is HTTP-like, as IoT Hub's (200, 204, 400, 404, 413, 429).
 * When the hub gave none, the host chose it and `reason` says why: 503 when the hub cannot be
 * reached or this bridge has no such operation (a plain AMQP broker has no twin), 504 when it did
 * not answer within the timeout. */
typedef struct iotgw_op_result {
  uint32_t struct_size;
  int32_t status;
  int64_t version;  /* the version the hub gave (a reported patch: the new one), or -1 */
  iotgw_bytes body; /* JSON, or empty */
  iotgw_str reason; /* empty when the status is the hub's own */
  void* reserved[4];
} iotgw_op_result;

typedef enum iotgw_hub_request_kind {
  IOTGW_HUB_DESIRED_PATCH = 1, /* body: the patch, with "$version"; needs no answer */
  IOTGW_HUB_METHOD_CALL = 2    /* name: the method; body: its JSON payload; answer with respond */
} iotgw_hub_request_kind;

typedef struct iotgw_hub_request {
  uint32_t struct_size;
  iotgw_hub_request_kind kind;
  uint64_t id;      /* what respond names; unique within the connection */
  iotgw_str name;   /* the method's name; empty for a desired patch */
  iotgw_bytes body; /* borrowed for the call */
  int64_t version;  /* a desired patch's version, or -1 */
  void* reserved[4];
} iotgw_hub_request;

/* Why the host closes a connection that the adapter did not ask to close (since 1.3). */
typedef enum iotgw_close_cause {
  IOTGW_CLOSE_TAKEN_OVER = 1, /* a newer connection for the same device took over */
  IOTGW_CLOSE_HUB_REFUSED = 2 /* the hub refused or dropped the device later (an expired token) */
} iotgw_close_cause;

/* ---------------------------------------------------------------------------------------------
 * The host function table, handed to every create(). It only grows at its end.
 */
typedef struct iotgw_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  void (*log)(const iotgw_plugin_ctx* ctx, iotgw_log_level level, const char* message);

  /* Connections (adapters). All take effect on the connection's loop. */
  iotgw_status (*write)(iotgw_conn* conn, iotgw_bytes data); /* copies; queued in order */
  size_t (*write_queue_size)(const iotgw_conn* conn);        /* bytes not yet on the wire */
  void (*close)(iotgw_conn* conn, const char* reason);       /* after queued writes flush */
  void (*pause_reading)(iotgw_conn* conn);
  void (*resume_reading)(iotgw_conn* conn);
  /* One-shot timer; setting an id that is armed re-arms it. on_timer(state, id) fires. */
  void (*set_timer)(iotgw_conn* conn, uint32_t timer_id, uint64_t milliseconds);
  void (*cancel_timer)(iotgw_conn* conn, uint32_t timer_id);

  /* Runs the listener's authenticators. The result comes through on_auth_result with the same
   * token, never from inside this call. On success the connection is bound to the device. */
  iotgw_status (*authenticate)(iotgw_conn* conn, const iotgw_credentials* credentials,
                               uint64_t* token);

  /* Messages. An adapter makes one, fills it, and hands it to send_upstream, which takes it
   * whatever it returns. A message handed to a callback is borrowed for that call. */
  iotgw_msg* (*msg_create)(iotgw_conn* conn);
  void (*msg_destroy)(iotgw_msg* msg);
  iotgw_bytes (*msg_body)(const iotgw_msg* msg);
  void (*msg_set_body)(iotgw_msg* msg, iotgw_bytes body); /* copies */
  /* Room for a new body, written in place while the current body stays readable; msg_commit_body
   * makes the first `size` bytes the body. Valid until commit or the next reserve. */
  uint8_t* (*msg_reserve_body)(iotgw_msg* msg, size_t capacity);
  void (*msg_commit_body)(iotgw_msg* msg, size_t size);
  /* Returns 1 and sets *value when the key exists. */
  int (*msg_get)(const iotgw_msg* msg, iotgw_prop_scope scope, iotgw_str key, iotgw_str* value);
  void (*msg_set)(iotgw_msg* msg, iotgw_prop_scope scope, iotgw_str key, iotgw_str value);
  int (*msg_remove)(iotgw_msg* msg, iotgw_prop_scope scope, iotgw_str key);
  size_t (*msg_count)(const iotgw_msg* msg, iotgw_prop_scope scope);
  /* The index-th property of a scope, in insertion order; returns 0 past the end. */
  int (*msg_at)(const iotgw_msg* msg, iotgw_prop_scope scope, size_t index, iotgw_str* key,
                iotgw_str* value);
  iotgw_str (*msg_device_id)(const iotgw_msg* msg);

  /* Upstream: runs the pipeline, then the bridge. For QoS 1, on_upstream_result(token) follows,
   * never from inside this call. Fails with IOTGW_ERR_STATE before authentication. */
  iotgw_status (*send_upstream)(iotgw_conn* conn, iotgw_msg* msg, iotgw_qos qos, uint64_t* token);

  /* Downstream: 1 asks the bridge for this device's cloud-to-device messages, 0 stops. */
  iotgw_status (*set_downstream)(iotgw_conn* conn, int enabled);
  /* The device's outcome for a message handed to on_downstream. Unsettled deliveries are
   * released when the connection ends. */
  void (*settle_downstream)(iotgw_conn* conn, uint64_t delivery, iotgw_outcome outcome,
                            const char* reason);

  /* Authenticators: finish a request that returned IOTGW_PENDING. Callable from any thread,
   * exactly once. identity is read during the call only; reason may be NULL. */
  void (*auth_complete)(iotgw_auth* request, iotgw_status status, const iotgw_identity* identity,
                        const char* reason);

  /* Since ABI 1.1 (NULL on a 1.0 host). 1 while reading is paused: by the adapter, or because
   * the bridge holds all it will queue for this device (no credit upstream, hub unreachable).
   * An adapter checks it after each send_upstream in on_bytes and returns what it has used;
   * the host hands it the rest once reading resumes. */
  int (*reading_paused)(const iotgw_conn* conn);

  /* Since ABI 1.2 (NULL before). An operation upstream (see "Operations"). The result comes
   * through on_operation_result with the same token, exactly once, never from inside this call.
   * IOTGW_ERR_STATE before authentication or for an adapter without on_operation_result. */
  iotgw_status (*request_upstream)(iotgw_conn* conn, const iotgw_op_request* request,
                                   uint64_t* token);
  /* Answers a hub request (a method call) with the device's status and JSON body, once per id.
   * IOTGW_ERR_STATE for an id that is unknown, answered, or one the hub has stopped waiting for. */
  iotgw_status (*respond)(iotgw_conn* conn, uint64_t id, int32_t status, iotgw_bytes body);

  void* reserved[29];
} iotgw_host_api;

/* ---------------------------------------------------------------------------------------------
 * Protocol adapters: sans-I/O engines. The host owns the socket and calls these; the adapter
 * answers through the host api. `instance` comes from create, `state` from open.
 */
typedef struct iotgw_adapter_vtable {
  uint32_t struct_size;
  iotgw_status (*create)(const iotgw_host_api* api, const iotgw_plugin_ctx* ctx,
                         const iotgw_config* config, void** instance, iotgw_error* error);
  void (*destroy)(void* instance);

  /* A connection opened. Refusing (non-OK) closes it with error's text. */
  iotgw_status (*open)(void* instance, iotgw_conn* conn, const iotgw_conn_info* info, void** state,
                       iotgw_error* error);
  /* Bytes arrived. Set *consumed to what was used; the host keeps the rest and hands it back,
   * followed by new bytes, on the next call. Non-OK closes the connection with error's text. */
  iotgw_status (*on_bytes)(void* state, iotgw_bytes data, size_t* consumed, iotgw_error* error);
  /* The write queue drained (after write_queue_size grew past the host's threshold). */
  void (*on_writable)(void* state);
  void (*on_timer)(void* state, uint32_t timer_id);
  void (*on_auth_result)(void* state, uint64_t token, iotgw_status status,
                         const iotgw_identity* identity, const char* reason);
  void (*on_upstream_result)(void* state, uint64_t token, iotgw_outcome outcome,
                             const char* reason);
  /* A message for the device; borrowed for the call. Settle it later with settle_downstream. */
  void (*on_downstream)(void* state, const iotgw_msg* msg, uint64_t delivery);
  /* The host will close the connection soon (shutdown or drain): finish what is in flight. */
  void (*on_drain)(void* state);
  /* The connection is gone. No host call for this connection is allowed from here on. */
  void (*close)(void* state);

  /* Since ABI 1.2; an adapter without them makes no operations. The answer to request_upstream;
   * result and what it points to are borrowed for the call. */
  void (*on_operation_result)(void* state, uint64_t token, const iotgw_op_result* result);
  /* The hub's side of an operation the adapter enabled; request is borrowed for the call. */
  void (*on_hub_request)(void* state, const iotgw_hub_request* request);

  /* Since 1.3, may be NULL. The host is about to close the connection for `cause`: what the
   * adapter writes during this call (an MQTT 5 DISCONNECT with a reason code) goes out before
   * the close. `reason` is the host's text, borrowed for the call. */
  void (*on_closing)(void* state, iotgw_close_cause cause, const char* reason);

  void* reserved[13];
} iotgw_adapter_vtable;

/* ---------------------------------------------------------------------------------------------
 * Pipeline stages: authenticators and transforms. Any of the callbacks may be NULL.
 */
typedef struct iotgw_stage_vtable {
  uint32_t struct_size;
  iotgw_status (*create)(const iotgw_host_api* api, const iotgw_plugin_ctx* ctx,
                         const iotgw_config* config, void** instance, iotgw_error* error);
  void (*destroy)(void* instance);

  /* Device to hub, in pipeline order. Must not block. */
  iotgw_verdict (*upstream)(void* instance, iotgw_msg* msg, iotgw_error* reason);
  /* Hub to device, in reverse pipeline order. Must not block. */
  iotgw_verdict (*downstream)(void* instance, iotgw_msg* msg, iotgw_error* reason);

  /* Authenticators. Return IOTGW_OK with *identity filled, IOTGW_ERR_REFUSED with the reason, or
   * IOTGW_PENDING and later call api->auth_complete. On entry `identity` holds what earlier
   * authenticators decided (device_id empty if none); fields left empty keep that. What the
   * plugin points the fields at must stay valid until this function is next called on the same
   * thread (the host copies it as soon as the call returns). */
  iotgw_status (*authenticate)(void* instance, const iotgw_credentials* credentials,
                               iotgw_identity* identity, iotgw_auth* request, iotgw_error* reason);

  /* Since 1.4, may be NULL. DTLS pre-shared keys: a device's handshake names an identity, and the
   * host needs its key before the handshake can go on, so it asks the listener's authenticators in
   * order. Write the key into `key` (capacity *size bytes, at least 64) and set *size to its
   * length for IOTGW_OK; IOTGW_ERR_REFUSED when this stage does not know the identity. Called on an
   * event loop in the middle of a handshake: answer from memory, never block. The identity that
   * completes a handshake reaches authenticate as credentials->psk_identity. */
  iotgw_status (*psk_key)(void* instance, iotgw_str identity, uint8_t* key, size_t* size);

  void* reserved[15];
} iotgw_stage_vtable;

/* ---------------------------------------------------------------------------------------------
 * The descriptor iotgw_plugin_entry returns. It must stay valid while the library is loaded.
 */
typedef enum iotgw_plugin_kind { IOTGW_KIND_ADAPTER = 1, IOTGW_KIND_STAGE = 2 } iotgw_plugin_kind;

typedef struct iotgw_plugin_descriptor {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* name; /* unique among loaded plugins: [a-z0-9_-]+ */
  const char* version;
  const char* description;
  iotgw_plugin_kind kind;
  const iotgw_config_key* config_keys;
  size_t config_key_count;
  const iotgw_adapter_vtable* adapter; /* set when kind is IOTGW_KIND_ADAPTER */
  const iotgw_stage_vtable* stage;     /* set when kind is IOTGW_KIND_STAGE */
  /* Since 1.2: sizeof(iotgw_config_key) as the plugin was built; 0 before (the 1.1 layout). */
  size_t config_key_size;
  void* reserved[7];
} iotgw_plugin_descriptor;

typedef const iotgw_plugin_descriptor* (*iotgw_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* IOTGW_ABI_H */
