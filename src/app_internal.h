/* The aw_app structure, shared by the library's modules. Not a public header. */
#ifndef AW_APP_INTERNAL_H
#define AW_APP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include <actingweb/actingweb.h>

#include "store/store.h"
#include "util/log.h"

struct aw_server;
struct aw_peer_engine;
struct aw_delivery;
struct aw_subscriber;
struct aw_group;
typedef struct aw_shard_link aw_shard_link;

/* A closure posted to the loop thread from any thread (aw_app_post). */
typedef struct aw_post {
    void (*fn)(aw_app *app, void *ud);
    void *ud;
    struct aw_post *next;
} aw_post;

struct aw_app {
    aw_config cfg;         /* string fields point into owned copies below */
    char *own_strings[16];
    size_t n_own;
    char *base_path;       /* path part of base_url ("" or "/prefix"), derived */
    char *host_header;     /* host[:port] part of base_url (Basic realm) */
    aw_logger log;
    aw_store *store;       /* the loop thread's handle; reach it through aw_app_store() */
    struct aw_store_exec *exec; /* storage executor (store/exec.h), or NULL: storage runs inline */

    uv_loop_t *loop;
    uv_loop_t own_loop;
    bool owns_loop;
    bool attached;
    uv_thread_t loop_thread;
    uv_async_t wakeup;     /* stop requests and posted closures */
    uv_timer_t housekeeping; /* storage maintenance, every 250 ms */
    pthread_mutex_t post_mu;
    aw_post *post_head, *post_tail;

    atomic_bool stop_requested;
    bool stopping;         /* shutdown sequence started (loop thread) */
    int closing_handles;   /* handles still closing */
    void (*closed_cb)(aw_app *app, void *ud);
    void *closed_ud;

    struct aw_server *server;
    struct aw_peer_engine *peer;
    struct aw_delivery *delivery;     /* publisher outbox workers (peer/delivery.c) */
    struct aw_trust_type *app_types;  /* the application's trust types (core/trust_types.c) */
    json_t **app_perms;
    size_t n_app_types;
    struct aw_subscriber *subscriber; /* subscriber gap timers (core/subscriber.c) */
    struct aw_group *group;           /* group commit of the current server turn (store/group.c) */
    char shard_id[40];                /* lease owner name for shared storage rows */
    struct aw_hooks *hooks;           /* hook registry (core/hooks.c); NULL until a hook is registered */
    aw_shard_link *link;              /* the other shards on this storage (shards.c), or NULL */
    atomic_bool delivery_wake;        /* a wake-up from another shard is posted and has not run yet */
};

/* True when called on the thread running the app's loop. */
bool aw_app_on_loop_thread(const aw_app *app);

/* The store handle of the calling thread: the handle of its storage-executor job on a worker thread,
 * the app's own handle anywhere else. Inline: without an executor it is the field load it replaced. */
aw_store *aw_app_store_slow(aw_app *app);
static inline aw_store *aw_app_store(aw_app *app) { return app->exec ? aw_app_store_slow(app) : app->store; }

/* Run fn(app, ud) on the loop thread soon (never inline). Thread-safe. Returns AW_ESHUTDOWN when the
 * app no longer accepts work. */
int aw_app_post(aw_app *app, void (*fn)(aw_app *app, void *ud), void *ud);

/* Shards (shards.c). Post a delivery wake-up to every other app linked with `app` (any thread; at most one
 * stays pending per app): they look for callbacks to send at once (aw_delivery_changed_elsewhere). */
void aw_shards_wake_delivery(aw_app *app);
/* Leave the link (aw_app_free); the last app out frees it. */
void aw_shards_unlink(aw_app *app);

/* Shutdown steps report back here when their handles are closed. */
void aw_app_handle_closed(aw_app *app);

/* Build the root URL of an actor: base_url + "/" + id. Returns malloc'd string. */
char *aw_app_actor_url(const aw_app *app, const char *actor_id);

#endif
