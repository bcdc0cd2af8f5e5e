/* actingweb/op.h — asynchronous operations: call options, results, cancellation, gather.
 *
 * The contract (sdk-api.md §0.3, §3.1) for every aw_*_async() start function:
 *  1. It returns AW_OK, or fails at once with AW_EINVAL, AW_ESHUTDOWN or AW_ENOMEM; then no callback runs.
 *  2. After AW_OK, `cb(res, ud)` runs exactly once, on the app's loop thread, never inside the start call.
 *  3. `res` is owned by the library and valid until `cb` returns; aw_result_ref() keeps it longer.
 *  4. With `op_out` non-NULL the caller owns one reference to the aw_op and must aw_op_unref() it once.
 *     Dropping it does not cancel. aw_op_cancel() aborts a running op (callback with AW_ECANCELED).
 *  5. A callback may start new operations and may cancel any op. It must not block.
 * Every sync form (same name without _async) starts the async form and waits; called on the loop
 * thread it fails at once with AW_EWOULDBLOCK. */
#ifndef ACTINGWEB_OP_H
#define ACTINGWEB_OP_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aw_app aw_app;
typedef struct aw_op aw_op;
typedef struct aw_result aw_result;

/* Retry policy (sdk-api.md §3.2). */
typedef struct aw_retry_policy {
    uint32_t max_attempts; /* 1 = no retry */
    uint32_t backoff_ms;   /* first backoff; doubles each attempt, ±20 % jitter */
} aw_retry_policy;

/* Per-call options. A NULL opts pointer means all defaults. */
typedef struct aw_call_opts {
    uint32_t deadline_ms;              /* whole operation; 0 = the configured default */
    const aw_retry_policy *retry;      /* NULL = the default policy for that kind of request */
    const char *parent_request_id;     /* sent as X-Parent-Request-ID; NULL = none */
    unsigned flags;                    /* reserved, 0 */
} aw_call_opts;

#define AW_CALL_OPTS_INIT {0, NULL, NULL, 0}

/* What the peer may have done (sdk-api.md §0.4). */
typedef enum aw_remote_state {
    AW_REMOTE_NONE = 0,    /* nothing was sent */
    AW_REMOTE_APPLIED = 1, /* the peer answered 2xx */
    AW_REMOTE_UNKNOWN = 2  /* a request was sent but no answer came back */
} aw_remote_state;

typedef void (*aw_done_cb)(const aw_result *res, void *ud);

/* Result accessors. `res` is borrowed; returned pointers stay valid as long as `res`. */
int aw_result_status(const aw_result *res);           /* AW_OK or an AW_E* code */
int aw_result_http_status(const aw_result *res);      /* 0 when no response arrived */
json_t *aw_result_json(const aw_result *res);         /* parsed body, or NULL; borrowed */
const char *aw_result_body(const aw_result *res, size_t *len); /* raw body bytes (NUL-terminated), or NULL */
const char *aw_result_location(const aw_result *res); /* Location header, or NULL */
const char *aw_result_message(const aw_result *res);  /* human text for failures; never NULL */
uint32_t aw_result_retry_after_ms(const aw_result *res);
uint32_t aw_result_attempts(const aw_result *res);
aw_remote_state aw_result_remote_state(const aw_result *res);
/* Typed payload of the operation (a trust record, a subscription, a meta document...), or NULL. Borrowed. */
json_t *aw_result_payload(const aw_result *res);

/* Keep a result beyond its callback: +1 reference. Thread-safe (atomic count). */
const aw_result *aw_result_ref(const aw_result *res);
/* Drop a reference taken with aw_result_ref() or returned by a sync call. NULL is a no-op. */
void aw_result_unref(const aw_result *res);

/* Cancel a running operation: aborts its transfers, runs compensation, completes with AW_ECANCELED.
 * Returns AW_OK, or AW_EALREADY when it had already completed (nothing happens). Loop thread only. */
int aw_op_cancel(aw_op *op);
/* Drop the caller's reference from op_out. Does not cancel. Thread-safe. */
void aw_op_unref(aw_op *op);

/* ---- gather: wait for N operations (like asyncio.gather(return_exceptions=True)) ---- */

typedef struct aw_gather aw_gather;

typedef void (*aw_gather_done_cb)(aw_gather *g, const aw_result *const *results, size_t n,
                                  size_t n_failed, void *ud);

typedef struct aw_gather_opts {
    uint32_t deadline_ms;   /* 0 = none: cancel attached slots still running after this */
    uint32_t max_in_flight; /* 0 = unlimited; with a limit use aw_gather_add() */
} aw_gather_opts;

/* A starter closure for aw_gather_add(): start one operation with (cb, cb_ud) as its completion and
 * store its op in *op_out (may leave NULL). Return AW_OK or the start error. */
typedef int (*aw_gather_start_fn)(aw_app *app, void *arg, aw_done_cb cb, void *cb_ud, aw_op **op_out);

/* Start a group. `opts` may be NULL. Loop thread only. Errors: AW_EINVAL, AW_ENOMEM, AW_ESHUTDOWN. */
int aw_gather_new(aw_app *app, aw_gather_done_cb done_cb, void *ud, const aw_gather_opts *opts,
                  aw_gather **out);
/* Reserve the next slot: returns its index and a completion pair to pass to an _async start. */
size_t aw_gather_slot(aw_gather *g, aw_done_cb *cb, void **cb_ud);
/* Make slot `slot` cancellable through `op` (the gather takes its own reference). */
void aw_gather_attach(aw_gather *g, size_t slot, aw_op *op);
/* Record that the start for `slot` failed at once with `status` (it will never call back). */
void aw_gather_fail(aw_gather *g, size_t slot, int status);
/* Add a slot whose operation is started by `start(app, arg, ...)` when the group's max_in_flight allows. */
size_t aw_gather_add(aw_gather *g, aw_gather_start_fn start, void *arg);
/* Close the group: done_cb runs once every slot has completed (next loop turn for an empty group). */
void aw_gather_seal(aw_gather *g);
/* Cancel every attached slot still running (they complete with AW_ECANCELED). */
void aw_gather_cancel(aw_gather *g);

#ifdef __cplusplus
}
#endif
#endif
