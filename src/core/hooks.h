/* The hook registry and the chain runner behind include/actingweb/hooks.h. Internal. */
#ifndef AW_CORE_HOOKS_H
#define AW_CORE_HOOKS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <actingweb/hooks.h>

#include "app_internal.h"

typedef enum aw_hook_kind {
    AW_HK_PROPERTY = 0,
    AW_HK_CALLBACK,
    AW_HK_METHOD,
    AW_HK_ACTION,
    AW_HK_RESOURCE,
    AW_HK_NKINDS
} aw_hook_kind;

/* Outcomes passed to the chain's done callback besides HTTP statuses (> 0) and 0 (transformed). */
#define AW_HOOKS_UNHANDLED (-1)  /* no hook replied: the value is the input */
#define AW_HOOKS_WOULDBLOCK (-2) /* a hook went pending where nobody can wait (loop thread, sync call) */

typedef struct aw_hook_entry {
    aw_hook_kind kind;
    char *name;      /* NULL = "*" */
    unsigned mask;   /* property op mask */
    aw_hook_fn fn;
    void *ud;
    json_t *meta;    /* methods/actions: {"name", "description", "input_schema", ...} */
} aw_hook_entry;

/* done(ctx, status, value, ud): status AW_HOOKS_UNHANDLED, 0 (transformed), an HTTP status from a reply
 * (504 on timeout) or AW_HOOKS_WOULDBLOCK. `value` borrowed (the current value, or the final reply's
 * JSON, possibly NULL). Called exactly once; the ctx is freed after it returns. */
typedef void (*aw_hooks_done_fn)(aw_hook_ctx *ctx, int status, json_t *value, void *ud);

struct aw_hook_ctx {
    aw_app *app;
    aw_hook_kind kind;
    char *name;
    aw_actor *actor;         /* own reference, may be NULL */
    aw_caller_kind caller;
    char peerid[72];
    char relationship[72];
    char request_id[80];
    char verb[16];
    char **path;             /* owned */
    size_t npath;
    json_t *query;           /* owned object of strings, or NULL */
    json_t *value;           /* owned; the current input */
    unsigned prop_op;

    /* chain state */
    aw_hook_entry **chain;
    size_t nchain, next;
    int mode;                /* 0 loop (async), 1 inline on the loop (no waiting), 2 wait (caller thread) */
    atomic_int st;
    atomic_bool post_failed;
    int r_status;
    json_t *r_json;
    uv_timer_t *timer;
    aw_hooks_done_fn done;
    void *done_ud;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct aw_hook_ctx *next_orphan;
};

/* A new context for one chain (kind, name copied). The caller fills the public fields. NULL on OOM. */
aw_hook_ctx *aw_hooks_ctx_new(aw_app *app, aw_hook_kind kind, const char *name, const char *verb);
/* Set the path segments (copied). */
int aw_hooks_ctx_set_path(aw_hook_ctx *ctx, const char *const *segs, size_t n);

/* True when at least one hook of `kind` matches `name` (and for properties the op bit). */
bool aw_hooks_match(aw_app *app, aw_hook_kind kind, const char *name, unsigned op);
/* True when any hook of `kind` is registered. */
bool aw_hooks_any(aw_app *app, aw_hook_kind kind);

/* Run the matching chain on ctx (takes ownership). `async_ok`: on the loop thread, hooks may answer
 * later (the chain then continues on the loop); otherwise a pending hook gives AW_HOOKS_WOULDBLOCK on
 * the loop thread, and off the loop (no running loop) the calling thread waits up to the timeout.
 * done() may run before this returns. */
void aw_hooks_run(aw_hook_ctx *ctx, bool async_ok, aw_hooks_done_fn done, void *ud);

/* The registered methods/actions metadata objects (borrowed), in registration order. */
size_t aw_hooks_list(aw_app *app, aw_hook_kind kind, json_t **out, size_t cap);
/* The exact-name entry of a method/action (borrowed), or NULL. */
aw_hook_entry *aw_hooks_find(aw_app *app, aw_hook_kind kind, const char *name);

/* Lifecycle: fire every hook of `ev`. Returns the trust decision for AW_EV_TRUST_REQUEST_RECEIVED
 * (AW_TRUST_DEFAULT when no hook decided), else 0. actor may be NULL (a handle is made from actor_id
 * when the actor still exists). record borrowed. */
int aw_hooks_fire_lifecycle(aw_app *app, aw_lifecycle_event ev, aw_event_origin origin, const char *actor_id,
                            const char *peerid, const char *relationship, const char *subid, json_t *record,
                            bool by_peer);
/* Shortcut for trust events from a record (may be NULL fields). */
struct aw_trust_rec;
int aw_hooks_fire_trust(aw_app *app, aw_lifecycle_event ev, aw_event_origin origin, const struct aw_trust_rec *rec,
                        bool by_peer);
/* True when some hook is registered for `ev`. */
bool aw_hooks_has_lifecycle(aw_app *app, aw_lifecycle_event ev);

/* True when a subscription data hook is registered. */
bool aw_hooks_has_sub_data(aw_app *app);

/* Subscription data hook (called by core/subscriber.c after sequencing and storage). kind: "diff",
 * "resync" or "baseline". Synchronous; failures are logged. */
void aw_hooks_fire_sub_data(aw_app *app, const char *actor_id, const char *peerid, const char *subid,
                            const char *target, const char *subtarget, const char *resource, json_t *data,
                            int64_t seq, const char *kind);

/* Free the registry and orphaned contexts (aw_app_free). */
void aw_hooks_free(aw_app *app);

#endif
