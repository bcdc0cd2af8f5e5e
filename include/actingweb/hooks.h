/* actingweb/hooks.h — the application hook registry (sdk-api.md §4).
 *
 * Registration: register every hook on the aw_app before aw_app_run / aw_app_attach (registration is
 * not synchronised with requests in flight). Registration functions copy `name` and the metadata; `ud`
 * is passed back untouched. They return AW_OK, AW_EINVAL (NULL app or fn, bad name or mask) or AW_ENOMEM.
 *
 * Request-path hooks (property, callback, method, action, resource) share one shape:
 *
 *     aw_hook_result fn(aw_hook_ctx *ctx, void *ud);
 *
 * They run on the app's loop thread (or, for SDK calls on an app that runs no loop, on the calling
 * thread) and MUST NOT block. A hook either
 *   - calls aw_hook_reply(ctx, status, json) before returning AW_HOOK_DONE, or
 *   - returns AW_HOOK_PENDING and calls aw_hook_reply later, exactly once, from any thread (the reply is
 *     handed to the loop with aw_app_post), or
 *   - returns AW_HOOK_DONE without replying: it passes, and the next hook runs with the same input.
 * `ctx` stays valid until the reply (or until the hook timed out). Reply statuses:
 *   - 0: transform — `json` becomes the input of the next hook (NULL keeps the input);
 *   - 100..399: final answer — the chain stops (for methods/actions/resources/callbacks this is the HTTP
 *     status, e.g. 200 or 201; for property hooks it accepts `json` as the value);
 *   - >= 400: rejection — the chain stops and the request gets exactly that status, with `json` as the
 *     body when given (else {"error":{"code":N,"message":...}}).
 * Exact-name hooks run before "*" hooks, each group in registration order. A hook that has not replied
 * within cfg.hook_timeout_ms (default 10 s) fails its request with 504; a late reply gets AW_ETIMEDOUT.
 * Hooks are not access control: authentication and permissions are checked before any hook runs. */
#ifndef ACTINGWEB_HOOKS_H
#define ACTINGWEB_HOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <actingweb/actor.h>
#include <actingweb/app.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aw_hook_ctx aw_hook_ctx;

typedef enum aw_hook_result { AW_HOOK_DONE = 0, AW_HOOK_PENDING = 1 } aw_hook_result;

typedef aw_hook_result (*aw_hook_fn)(aw_hook_ctx *ctx, void *ud);

/* Property operations (mask for aw_hook_property; aw_hook_prop_op reports one). */
#define AW_HOOK_PROP_GET 0x1u
#define AW_HOOK_PROP_PUT 0x2u
#define AW_HOOK_PROP_POST 0x4u
#define AW_HOOK_PROP_DELETE 0x8u
#define AW_HOOK_PROP_ALL 0xFu

/* Who made the request a hook serves. */
typedef enum aw_caller_kind {
    AW_CALLER_ANONYMOUS = 0,
    AW_CALLER_CREATOR,
    AW_CALLER_TRUSTEE,
    AW_CALLER_PEER,
    AW_CALLER_SDK /* an SDK call made by the application itself */
} aw_caller_kind;

/* Method and action metadata, served by GET /methods and GET /actions. Every field may be NULL. The JSON
 * values are borrowed (the registry keeps its own references). */
typedef struct aw_method_meta {
    const char *description;
    json_t *input_schema;
    json_t *output_schema;
    json_t *annotations;
} aw_method_meta;

/* Property hooks: `name` is a top-level property name or "*"; `ops` a mask of AW_HOOK_PROP_*. They fire
 * on REST reads and writes of simple properties (GET, PUT, DELETE of /properties/{name}; collection reads
 * may hide or transform entries but must answer at once there) and on SDK reads/writes without
 * AW_PROP_NO_HOOKS. Input (aw_hook_body): the value read, the value to store, or the current value for a
 * delete. aw_hook_hide on a read gives 404 / leaves the entry out of collections. */
int aw_hook_property(aw_app *app, const char *name, unsigned ops, aw_hook_fn fn, void *ud);

/* /callbacks/{name}/... (any method; not "subscriptions" or "permissions"). No reply → 403. A final reply
 * gives its status and JSON (status 0 / a transform gives 200 with the value). */
int aw_hook_callback(aw_app *app, const char *name, aw_hook_fn fn, void *ud);

/* /methods/{name}: GET reads (200 with the reply), POST/PUT call it with the body (JSON-RPC 2.0 bodies
 * are unwrapped: aw_hook_body gives `params`, and the reply is wrapped), DELETE (204). `meta` may be NULL. */
int aw_hook_method(aw_app *app, const char *name, const aw_method_meta *meta, aw_hook_fn fn, void *ud);

/* /actions/{name}: POST/PUT run the action (success status cfg.action_success_status, default 200 as the
 * reference; a hook reply with status 100..399 wins), GET reads its status, DELETE cancels (204). */
int aw_hook_action(aw_app *app, const char *name, const aw_method_meta *meta, aw_hook_fn fn, void *ud);

/* /resources/{name}/... any method: GET/PUT/DELETE answer 200, POST 201 unless the reply names a status.
 * No hook (or no reply) → 404. */
int aw_hook_resource(aw_app *app, const char *name, aw_hook_fn fn, void *ud);

/* ---------------------------------------------------------------- hook context (valid until the reply) */
aw_app *aw_hook_app(const aw_hook_ctx *ctx);
/* The actor (borrowed; aw_actor_ref it to keep it past the reply). */
aw_actor *aw_hook_actor(const aw_hook_ctx *ctx);
aw_caller_kind aw_hook_caller(const aw_hook_ctx *ctx);
/* Peer id and relationship of a peer caller, else NULL. */
const char *aw_hook_peer_id(const aw_hook_ctx *ctx);
const char *aw_hook_relationship(const aw_hook_ctx *ctx);
/* X-Request-ID of the HTTP request ("" for SDK calls). */
const char *aw_hook_request_id(const aw_hook_ctx *ctx);
/* "GET", "PUT", "POST", "DELETE" (effective method; SDK calls use the matching verb). */
const char *aw_hook_verb(const aw_hook_ctx *ctx);
/* The name the hook matched (property, callback, method, action or resource name). */
const char *aw_hook_name(const aw_hook_ctx *ctx);
/* Path segments below the endpoint, starting with the name: /resources/a/b/c → ["a","b","c"]; for list
 * items [list, item-id]. */
size_t aw_hook_path_count(const aw_hook_ctx *ctx);
const char *aw_hook_path(const aw_hook_ctx *ctx, size_t i);
/* A query argument, or NULL. */
const char *aw_hook_query(const aw_hook_ctx *ctx, const char *key);
/* The input value (borrowed; may be NULL when the request had no body). For methods called with
 * JSON-RPC this is `params`. After a transform it is the previous hook's output. */
json_t *aw_hook_body(const aw_hook_ctx *ctx);
/* Property hooks: the operation (one AW_HOOK_PROP_* bit); 0 for other kinds. */
unsigned aw_hook_prop_op(const aw_hook_ctx *ctx);

/* Answer, exactly once (see the file comment). `json` is borrowed. Returns AW_OK, AW_EALREADY (second
 * reply), AW_ETIMEDOUT (the hook timed out: the request was answered 504) or AW_EINVAL. Thread-safe. */
int aw_hook_reply(aw_hook_ctx *ctx, int status, json_t *json);
/* aw_hook_reply(ctx, 403, NULL). */
int aw_hook_reject(aw_hook_ctx *ctx);
/* For reads: 404 for one item; the item is left out of collections. aw_hook_reply(ctx, 404, NULL). */
int aw_hook_hide(aw_hook_ctx *ctx);

/* ---------------------------------------------------------------- lifecycle (sdk-api.md §4.3) */
typedef enum aw_lifecycle_event {
    AW_EV_ACTOR_CREATED = 0,
    AW_EV_ACTOR_DELETED,          /* before the wipe; data still readable */
    AW_EV_ACTOR_DELETED_COMPLETE, /* after the wipe; actor_id only */
    AW_EV_TRUST_INITIATED,
    AW_EV_TRUST_REQUEST_RECEIVED, /* may decide: return an aw_trust_decision */
    AW_EV_TRUST_APPROVED,
    AW_EV_TRUST_FULLY_APPROVED_LOCAL,
    AW_EV_TRUST_FULLY_APPROVED_REMOTE,
    AW_EV_TRUST_DELETED,
    AW_EV_SUBSCRIPTION_DELETED,
    AW_EV_COUNT
} aw_lifecycle_event;

typedef enum aw_event_origin { AW_ORIGIN_HTTP = 0, AW_ORIGIN_SDK, AW_ORIGIN_CASCADE } aw_event_origin;

/* Returned by trust_request_received hooks (others return 0). */
typedef enum aw_trust_decision {
    AW_TRUST_DEFAULT = 0, /* the configured policy */
    AW_TRUST_APPROVE,     /* 201 */
    AW_TRUST_PENDING,     /* 202 */
    AW_TRUST_DENY         /* 403 */
} aw_trust_decision;

/* What a lifecycle hook receives; everything borrowed for the duration of the call. */
typedef struct aw_lifecycle_info {
    aw_lifecycle_event event;
    aw_event_origin origin;
    const char *actor_id;
    aw_actor *actor;          /* NULL for actor_deleted_complete */
    const char *peer_id;      /* trust/subscription events, else NULL */
    const char *relationship; /* trust events, else NULL */
    const char *subid;        /* subscription_deleted */
    json_t *record;           /* trust record (protocol.md §7.1) or subscription record, or NULL */
    bool initiated_by_peer;   /* subscription_deleted / trust_deleted: the peer started it */
} aw_lifecycle_info;

/* Lifecycle hooks are notifications and run synchronously where the event happens (loop thread for
 * HTTP paths, the SDK caller's context for SDK calls). They must not block. Every registered hook of the
 * event runs; for trust_request_received the first non-default decision wins. */
typedef int (*aw_lifecycle_fn)(aw_app *app, const aw_lifecycle_info *info, void *ud);
int aw_hook_lifecycle(aw_app *app, aw_lifecycle_event event, aw_lifecycle_fn fn, void *ud);

/* The event's name ("actor_created", ...); static. */
const char *aw_lifecycle_event_name(aw_lifecycle_event event);

/* ---------------------------------------------------------------- subscription data (§4.2, §5) */
typedef struct aw_sub_data {
    const char *actor_id;
    const char *peer_id;
    const char *subid;
    const char *target;
    const char *subtarget; /* NULL or "" when none */
    const char *resource;  /* NULL or "" when none */
    json_t *data;          /* borrowed */
    int64_t seq;
    const char *kind;      /* "diff", "resync" or "baseline" */
} aw_sub_data;

/* Called after the data is sequenced and stored, on the loop thread. The next diff of the same
 * subscription is processed after it returns. A non-zero return is logged; the sequence advances. */
typedef int (*aw_sub_data_fn)(aw_app *app, const aw_sub_data *d, void *ud);
/* `target` is a subscription target ("properties", ...) or "*". */
int aw_hook_sub_data(aw_app *app, const char *target, aw_sub_data_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
