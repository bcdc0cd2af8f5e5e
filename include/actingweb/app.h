/* actingweb/app.h — the application handle: configuration, loop, server, storage, peer engine. */
#ifndef ACTINGWEB_APP_H
#define ACTINGWEB_APP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aw_app aw_app;

/* Log levels, most severe first. */
typedef enum aw_log_level { AW_LOG_ERROR = 0, AW_LOG_WARN = 1, AW_LOG_INFO = 2, AW_LOG_DEBUG = 3 } aw_log_level;

/* A log sink. `msg` is one line without a trailing newline, valid only during the call.
 * Called on whichever thread logs: normally the app's loop thread, but also storage worker threads
 * (`store_threads`) and SQLite's background checkpoint threads, so it must be thread-safe. Secrets never
 * reach it. */
typedef void (*aw_log_fn)(aw_log_level level, const char *msg, void *ud);

/* Peer-client limits and timeouts (sdk-api.md §3, clarifications.md #3). 0 = default.
 * Outbound requests honour the proxy variables libcurl knows (http_proxy, https_proxy / HTTPS_PROXY,
 * all_proxy / ALL_PROXY, with no_proxy / NO_PROXY); whether any of the proxy variables is set is read once,
 * when the app's loop starts: with none set, no proxy is used and no variable is looked up per request. */
typedef struct aw_net_config {
    uint32_t connect_ms;    /* per connect; default 5000 */
    uint32_t attempt_ms;    /* per HTTP attempt; default 10000 */
    uint32_t deadline_ms;   /* whole operation when the call names none; default 30000 */
    uint32_t verify_ms;     /* verification GET during an inbound trust request; default 5000 */
    uint32_t max_outbound;  /* requests in flight in total; default 1024 */
    uint32_t per_origin;    /* requests in flight per scheme+host+port; default 64 */
    size_t max_response;    /* response body cap in bytes; default 4 MiB */
    int deny_private_peers; /* refuse peer URLs on loopback/private addresses; default 0 */
    const char *ca_file;    /* CA bundle (PEM) to verify https peers with; NULL = the system CA store */
    int curl_for_http;      /* 1: plain-http peers go through libcurl too. Default 0: they go through the
                             * library's own HTTP/1.1 client (keep-alive per origin, ~half the CPU per
                             * request); https peers, Basic credentials and a proxy variable set in the
                             * environment (http_proxy, all_proxy...) always use libcurl. */
} aw_net_config;

/* A trust type the application offers besides the defaults (protocol.md §5.3); a type with a default's
 * name replaces that default. Strings borrowed by aw_app_new(). */
typedef struct aw_trust_type_def {
    const char *name;             /* the relationship name peers ask for, e.g. "colleague" */
    const char *display_name;     /* NULL = name */
    const char *description;      /* NULL = "" */
    const char *permissions_json; /* base permissions: a JSON object of rule blocks per category, e.g.
                                   * {"properties": {"patterns": ["work/any"], "operations": ["read"]}};
                                   * NULL = none (the access-control list decides) */
} aw_trust_type_def;

/* Application configuration. Initialise with aw_config_init(), then set fields.
 * Strings are borrowed: aw_app_new() copies everything it keeps. */
typedef struct aw_config {
    const char *type_urn;     /* mini-app type URN; default "urn:actingweb:actingweb-c:actingwebd" */
    const char *base_url;     /* scheme://host[:port][/path], no trailing slash; required */
    const char *app_version;  /* served at /meta/version; default "1.0" */
    const char *desc;         /* /meta desc; default "ActingWeb app: <type_urn>" */
    const char *info_url;     /* /meta/info; default "" */
    const char *spec_url;     /* /meta/specification; default "" */
    const char *storage;      /* "sqlite:<path>"; required. SQLite's process-wide settings are left to the
                               * program: actingwebd turns off SQLite's allocation statistics
                               * (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) before any other SQLite call),
                               * a global mutex per allocation, ~5 % of a busy publisher's instructions */
    int devtest;              /* serve /devtest; default 0 (must stay off in production) */
    const char *default_relationship; /* default "associate" */
    const aw_trust_type_def *trust_types; /* extra trust types (array of n_trust_types), or NULL */
    size_t n_trust_types;
    int auto_accept_default;  /* approve incoming requests for the default relationship at once */
    int unique_creator;       /* at most one actor per creator; default 0 */

    /* Inbound HTTP server. listen_port 0 = no server (pure SDK use). */
    const char *listen_host;  /* default "127.0.0.1" */
    uint16_t listen_port;
    int reuse_port;           /* SO_REUSEPORT, so several apps (shards) share one port */
    size_t max_body;          /* bytes; default 1 MiB; larger bodies get 413 */
    size_t max_header;        /* bytes for the request line + headers; default 8 KiB */
    unsigned max_connections; /* default 10000 */
    int max_depth;            /* JSON nesting limit for request bodies; default 64 */
    uint32_t gap_timeout_ms;  /* subscriber gap timeout; default 5000 */

    aw_net_config net;

    /* Publisher-side callback delivery (sdk-api.md §6). 0 = default. */
    uint32_t delivery_max_concurrent; /* callbacks in flight in total; default 64 */
    size_t delivery_cap_bytes;        /* larger high-granularity callbacks go out in low form; default 256 KiB */

    aw_log_fn log_cb;         /* default: stderr */
    void *log_ud;
    aw_log_level log_level;   /* default AW_LOG_INFO */

    /* SDK hooks (issue #5, sdk-api.md §4). Added at the end; 0 = default. */
    uint32_t hook_timeout_ms;     /* an async hook must reply within this; default 10000 (else 504) */
    int action_success_status;    /* HTTP status of a successful POST/PUT /actions/{name}; default 200 (Ref) */

    /* Storage executor. > 0: storage-bound requests (/meta, and /properties when no property hook is
     * registered) run on libuv's thread pool with up to this many storage connections of their own, and
     * answer later on the loop; the loop keeps serving meanwhile. 0 (default) = inline on the loop,
     * which is faster for SQLite (bench/http.sh); a backend whose calls block on a network uses 4.
     * Jobs run on libuv's thread pool (UV_THREADPOOL_SIZE, default 4 threads per process). */
    unsigned store_threads;

    /* Diff retention (sdk-api.md §6.8). Added at the end; 0 = default. */
    uint32_t diff_cap;            /* diffs kept per subscription; the oldest beyond it are pruned and the
                                   * subscription resyncs on its next delivery; default 10000 */
} aw_config;

/* Fill `cfg` with the defaults above. Never fails. */
void aw_config_init(aw_config *cfg);

/* Create an application from `cfg` (borrowed; copied). Opens storage and applies schema migrations.
 * On success *out owns a new app; free it with aw_app_free(). Errors: AW_EINVAL (bad config),
 * AW_ESTORAGE (storage cannot be opened or migrated), AW_ENOMEM. Call from any thread; the app is then
 * bound to the thread that runs its loop. */
int aw_app_new(const aw_config *cfg, aw_app **out);

/* Run the app on its own loop until aw_app_stop(): starts the HTTP server (if listen_port != 0), the
 * peer engine and timers. Blocks. Returns AW_OK after a clean stop, or an error if the server cannot
 * start (AW_EINVAL bad address, AW_EBUSY port in use). */
int aw_app_run(aw_app *app);

/* Attach the app to a caller-owned loop instead of aw_app_run(): the server, peer engine and every
 * callback then run on `loop`'s thread. The caller runs the loop. Errors as aw_app_run(). */
int aw_app_attach(aw_app *app, uv_loop_t *loop);

/* Ask the app to stop: stop accepting connections, finish requests in flight, cancel outstanding
 * operations (their callbacks run with AW_ESHUTDOWN), close storage. Thread-safe and async-signal
 * unsafe; may be called from any thread, any number of times. With aw_app_run() the call returns
 * once the loop has ended; with aw_app_attach() `closed_cb` (may be NULL) runs on the loop once the
 * app has released every handle it put on that loop. */
void aw_app_stop(aw_app *app);
void aw_app_close(aw_app *app, void (*closed_cb)(aw_app *app, void *ud), void *ud);

/* Free the app. Legal after aw_app_run() returned or after the close callback ran. NULL is a no-op. */
void aw_app_free(aw_app *app);

/* Link the `n` apps (shards) of one process that serve the same storage, e.g. one event loop per core on
 * one port with `reuse_port` (what actingwebd does). Work one shard creates for all of them then starts on
 * the others at once rather than at their next poll (up to a second later): after a shard commits a
 * change that has subscribers, every shard's delivery workers look for callbacks to send, so a burst is
 * delivered by all the loops, not only by the one that took the writes. Call before any of the apps runs
 * (aw_app_run / aw_app_attach), from any one thread; an app is in at most one link. The apps stay
 * independent otherwise (each is stopped and freed on its own; aw_app_free() leaves the link, in any
 * order). The array is borrowed. Errors: AW_EINVAL (n < 2, a NULL or repeated app, an app already linked
 * or already running), AW_ENOMEM. */
int aw_app_link_shards(aw_app *const *apps, size_t n);

/* The loop the app runs on (NULL before run/attach). Borrowed. */
uv_loop_t *aw_app_loop(aw_app *app);

/* The actual TCP port the server listens on (useful with listen_port chosen by the OS). 0 if none. */
uint16_t aw_app_port(const aw_app *app);

/* Free memory the library allocated and handed out as char *. NULL is a no-op. */
void aw_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
