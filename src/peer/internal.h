/* Peer engine internals shared by the src/peer sources. Not a public header.
 *
 * Threading: everything here runs on the app's loop thread, except the atomic reference counts of
 * aw_op / aw_result and aw_app_post().
 *
 * Building blocks other modules may use (trust, subscriptions, proxy):
 *  - aw_result_new() / aw_result_setmsg(): build a result.
 *  - aw_op_custom_new() / aw_op_custom_complete(): a composite operation whose steps are other ops;
 *    its cancel hook aborts the current step and must then complete the op (see below).
 *  - aw_peer_timer_*: one-shot timers on the engine's single uv_timer (a min-heap). */
#ifndef AW_PEER_INTERNAL_H
#define AW_PEER_INTERNAL_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <actingweb/op.h>
#include <actingweb/peer.h>

#include "app_internal.h"
#include "util/str.h"

typedef struct aw_peer_engine aw_peer_engine;

/* ---- results ---- */
struct aw_result {
    atomic_int refs;
    int status;
    int http_status;
    _Atomic(json_t *) json;  /* parsed lazily from body by aw_result_json() */
    atomic_bool json_tried;
    char *body;
    size_t body_len;
    char *location;
    char *message;
    uint32_t retry_after_ms;
    uint32_t attempts;
    aw_remote_state remote_state;
    json_t *payload;
};

/* New result with one reference and the given status; NULL on OOM. */
aw_result *aw_result_new(int status);
/* Replace the message (printf-style). */
void aw_result_setmsg(aw_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replace the message with "<method> <url>: <why>" (a request's outcome; no printf on this per-request path). */
void aw_result_setmsg_req(aw_result *r, const char *method, const char *url, const char *why);

/* ---- timers: one uv_timer per engine, a min-heap of nodes ---- */
typedef struct aw_tnode {
    uint64_t due;   /* loop ms */
    size_t idx;     /* heap index + 1; 0 = not armed */
    void (*fire)(struct aw_tnode *n);
} aw_tnode;

void aw_peer_timer_start(aw_peer_engine *eng, aw_tnode *n, uint64_t delay_ms);
void aw_peer_timer_stop(aw_peer_engine *eng, aw_tnode *n);

/* ---- operations ---- */
typedef enum {
    OPS_INIT = 0,
    OPS_WAIT_ORIGIN, /* queued for a per-origin slot */
    OPS_WAIT_GLOBAL, /* holds its origin slot, queued for a global slot */
    OPS_RUNNING,     /* transfer in curl */
    OPS_BACKOFF,     /* between attempts */
    OPS_DONE         /* completion known (delivered or about to be) */
} aw_op_state;

typedef enum { AW_OPK_REQUEST = 0, AW_OPK_CUSTOM = 1 } aw_op_kind;

struct aw_origin;

struct aw_op {
    atomic_int refs;
    aw_app *app;
    aw_peer_engine *eng;
    aw_op_kind kind;
    aw_op_state state;
    bool delivered;           /* callback ran */
    bool cancel_pending;      /* cancelled before its posted start ran on the loop */
    aw_done_cb cb;
    void *ud;
    aw_result *res;           /* final result (set when state == OPS_DONE) */
    aw_op *anext, *aprev;     /* engine's list of undelivered ops */
    aw_tnode tn;              /* deadline / backoff / deferred completion */
    enum { TN_DEADLINE, TN_BACKOFF, TN_COMPLETE } tn_kind;
    uint64_t deadline;        /* loop ms */

    /* custom ops */
    void (*custom_cancel)(aw_op *op, int status, void *cud);
    void *custom_ud;

    /* request ops */
    char *method;
    char *url;
    char *origin_key;
    CURLU *cu;                /* op->url parsed (CURLOPT_CURLU: libcurl does not parse it again); may be NULL */
    char *body;
    size_t body_len;
    bool has_body;
    struct curl_slist *hdrs;
    char *basic_user, *basic_pass;
    aw_idempotency idemp;
    uint32_t max_attempts, backoff_ms;
    struct aw_origin *origin; /* while queued on it or holding a slot */
    uint32_t lane;            /* 1 + the origin's connection lane its transfer runs in; 0 = none */
    bool holds_origin, holds_global;
    aw_op *qnext, *qprev;     /* wait queue link */
    CURL *easy;               /* the attempt's transfer in libcurl, or */
    struct h1_conn *h1c;      /* its connection in the built-in HTTP/1.1 client (http1.c) */
    char *h1_target;          /* request target (path?query) for http1.c, made on first use */
    uint64_t h1_attempt_due, h1_connect_due; /* loop ms, for http1.c */
    aw_buf resp;
    bool over_cap;
    bool denied;              /* deny_private_peers refused the address */
    char *hdr_location;
    uint32_t hdr_retry_after_ms;
    bool hdr_has_retry_after;
    char errbuf[CURL_ERROR_SIZE];
    uint32_t attempts;
    bool maybe_sent;          /* some attempt may have reached the peer without an answer */
    /* transform of the final result (meta validation...) */
    void (*xform)(aw_op *op, aw_result *res);
};

/* A custom (composite) op: state OPS_RUNNING, counted as active. Loop thread only. `cancel` is
 * called by aw_op_cancel / shutdown with AW_ECANCELED / AW_ESHUTDOWN; it must abort its sub-steps
 * and call aw_op_custom_complete() (at once or later). Returns NULL when shutting down / OOM. */
aw_op *aw_op_custom_new(aw_app *app, aw_done_cb cb, void *ud,
                        void (*cancel)(aw_op *op, int status, void *cud), void *cud);
/* Complete a custom op with `res` (takes the reference). The callback runs now (defer=false, only
 * from a loop callback, never inside a start call) or on a later loop turn (defer=true). */
void aw_op_custom_complete(aw_op *op, aw_result *res, bool defer);

/* ---- engine internals ---- */
aw_peer_engine *aw_peer_eng(aw_app *app);
bool aw_peer_eng_accepting(aw_app *app); /* loop thread: not shutting down */
void aw_op_register(aw_peer_engine *eng, aw_op *op);
/* Mark the op done with `res` (takes the reference) and deliver now or on a later loop turn. */
void aw_op_finish(aw_op *op, aw_result *res, bool defer);
void aw_op_free(aw_op *op);
void aw_op_tn_fire(aw_tnode *n); /* the op's timer node dispatcher */

/* Request ops (request.c). */
void aw_req_launch_or_queue(aw_op *op);
void aw_req_abort(aw_op *op, int status);
void aw_req_timer_fire(aw_op *op);
void aw_req_curl_done(aw_op *op, CURLcode rc);

/* How an attempt ended, whatever carried it (libcurl or http1.c): aw_req_attempt_end() releases the
 * op's gate slots, then retries or completes it. */
typedef struct aw_attempt_end {
    int status;       /* AW_OK / AW_EPEER (answered), AW_ENET, AW_ETIMEDOUT, AW_EPROTO, AW_ENOMEM */
    long http;        /* the answer's status code, else 0 */
    bool transient;   /* another attempt may succeed */
    bool answered;    /* the peer answered (a status line arrived) */
    bool never_left;  /* the request surely did not reach the peer */
    bool complete;    /* a whole answer was read: its body is kept even for AW_EPROTO */
    bool timed_out;   /* the attempt ran out of time (when the op's deadline is why, AW_ETIMEDOUT) */
    bool defer;       /* inside a start call: complete on a later loop turn */
    const char *why;  /* for the message; NULL = aw_strerror(status) */
} aw_attempt_end;
void aw_req_attempt_end(aw_op *op, const aw_attempt_end *end);
/* The attempt got a whole answer with status code `http`. */
void aw_req_attempt_answered(aw_op *op, long http);
/* Note a Retry-After header value (seconds or an HTTP date) in op->hdr_retry_after_ms. */
void aw_req_retry_after(aw_op *op, const char *value, size_t len);
void aw_req_free_fields(aw_op *op);
int aw_req_prepare(aw_app *app, const aw_peer_request *req, const aw_call_opts *opts, aw_done_cb cb,
                   void *ud, aw_op **out);
/* The same with the request URL's origin key and parse already known (both stolen, also on failure;
 * origin_key NULL = compute both). */
int aw_req_prepare_at(aw_app *app, const aw_peer_request *req, const aw_call_opts *opts, aw_done_cb cb,
                      void *ud, char *origin_key, CURLU *cu, aw_op **out);
int aw_req_submit(aw_op *op, aw_op **op_out);

/* Gates (engine.c). */
bool aw_gate_acquire(aw_op *op);  /* true: may launch now; false: queued */
void aw_gate_release(aw_op *op);  /* release slots held / leave queues, pump waiters */

/* Curl multi (engine.c). */
CURLM *aw_peer_multi(aw_peer_engine *eng);
/* A recycled easy handle (not reset: the options every transfer sets are set again by its launch, the
 * invariant ones only when *fresh, i.e. on a new handle), or NULL. */
CURL *aw_peer_easy_get(aw_peer_engine *eng, bool *fresh);
CURLSH *aw_peer_share_for(aw_peer_engine *eng, aw_op *op); /* connection cache for op's next transfer; takes a lane place */
/* A connection socket curl opened through CURLOPT_OPENSOCKETFUNCTION: its close will be reported, so it
 * may stay in the epoll set while its connection idles. */
void aw_peer_sock_opened(aw_peer_engine *eng, curl_socket_t fd);
void aw_peer_easy_put(aw_peer_engine *eng, CURL *e);
void aw_peer_next_request_id(aw_peer_engine *eng, char out[40]);
const aw_net_config *aw_peer_net(aw_peer_engine *eng);
/* The built-in HTTP/1.1 client (http1.h), or NULL when every request goes through libcurl. */
struct aw_h1 *aw_peer_h1(aw_peer_engine *eng);
uint64_t aw_peer_now(aw_peer_engine *eng);

/* Sync helper (sync.c): start(app, ctx, cb, ud, NULL) then wait. */
int aw_sync_call(aw_app *app, int (*start)(aw_app *app, void *ctx, aw_done_cb cb, void *ud), void *ctx,
                 aw_result **out, const char *what);

/* URL parts via CURLU (url.c). *origin_key "scheme://host:port" (malloc). With cu (may be NULL), the
 * parsed URL too (curl_url_cleanup), for CURLOPT_CURLU. Returns AW_OK / AW_EINVAL. */
int aw_url_origin(const char *url, char **origin_key, CURLU **cu);
/* aw_peer_url_validate() of the actor root `url` and aw_url_origin() of `request_url` (a URL below that
 * root; NULL = the root itself) from one parse (*origin_key and *cu handed over on AW_OK). */
int aw_peer_url_origin_checked(aw_app *app, const char *url, const char *request_url, char **origin_key,
                               CURLU **cu);
bool aw_addr_is_private(const struct sockaddr *sa);

#endif
