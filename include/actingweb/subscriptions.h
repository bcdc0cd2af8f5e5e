/* actingweb/subscriptions.h — subscriptions between actors (protocol.md §9, sdk-api.md §2.7, §5, §6).
 *
 * Two directions. A *mirror* is our record of a subscription we hold at a peer (we receive callbacks);
 * a *publisher record* is a peer's subscription here (we send callbacks). Both are JSON objects:
 * {"id", "peerid", "subscriptionid", "target", "subtarget", "resource", "granularity", "sequence",
 *  "callback"} where callback = true marks a mirror and sequence is the last applied (mirror) or the last
 * made (publisher) diff number.
 *
 * Network operations follow actingweb/op.h: `aw_sub_X_async(...)` and the blocking `aw_sub_X(...)`.
 * Async starts may be made on any thread; from another thread *op_out receives NULL (cancelling is a
 * loop-thread action). Callbacks run on the loop thread. Sync forms fail at once with AW_EWOULDBLOCK on
 * the loop thread. `opts->deadline_ms` bounds the whole operation (AW_ETIMEDOUT). Local functions touch
 * storage only: call them on the loop thread, or on any thread while the app is not running.
 *
 * Delivery is the library's job: every change of subscribed data is stored as a diff with its delivery
 * job in the same transaction, and workers on the loop send callbacks with retries (sdk-api.md §6). */
#ifndef ACTINGWEB_SUBSCRIPTIONS_H
#define ACTINGWEB_SUBSCRIPTIONS_H

#include <actingweb/op.h>
#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What to subscribe to. Strings are borrowed for the start call. NULL/"" = none. */
typedef struct aw_sub_scope {
    const char *target;      /* required, e.g. "properties" */
    const char *subtarget;
    const char *resource;    /* needs subtarget */
    const char *granularity; /* "high" (default), "low" or "none" */
} aw_sub_scope;

/* Subscribe `actor_id` to `peer_id` (an approved trust is needed): POST {peer}/subscriptions/{me}, store
 * the mirror, then fetch and store the baseline of the subscribed data (sdk-api.md §5.5) before
 * completing. Payload: {"subscriptionid", "url", "peerid", "target", "subtarget", "resource",
 * "granularity", "sequence"}. Errors: AW_EINVAL (bad scope, at start), AW_ENOTRUST, AW_EPEER (the peer
 * refused; 501 means retry with granularity "none"), AW_ENET, AW_ETIMEDOUT, AW_EPROTO, storage errors.
 * A failed baseline does not fail the subscription: the next pull sync repairs it. */
int aw_sub_subscribe_async(aw_app *app, const char *actor_id, const char *peer_id, const aw_sub_scope *scope,
                           const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out);
int aw_sub_subscribe(aw_app *app, const char *actor_id, const char *peer_id, const aw_sub_scope *scope,
                     const aw_call_opts *opts, aw_result **out);

/* As aw_sub_subscribe without the baseline (Ref create_remote_subscription). */
int aw_sub_create_remote_async(aw_app *app, const char *actor_id, const char *peer_id, const aw_sub_scope *scope,
                               const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out);
int aw_sub_create_remote(aw_app *app, const char *actor_id, const char *peer_id, const aw_sub_scope *scope,
                         const aw_call_opts *opts, aw_result **out);

/* Unsubscribe: DELETE {peer}/subscriptions/{me}/{subid} (2xx or 404 = done), then delete the mirror and,
 * for the last mirror to that peer, its remote store. An unreachable peer fails the operation and keeps
 * the mirror. Errors: AW_ENOTFOUND (no such mirror), AW_ENOTRUST, network errors. */
int aw_sub_unsubscribe_async(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                             const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out);
int aw_sub_unsubscribe(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                       const aw_call_opts *opts, aw_result **out);

/* End a subscription whichever its direction and tell the peer (Ref delete_remote_subscription): a mirror
 * as aw_sub_unsubscribe, a publisher record by DELETE {peer}/callbacks/subscriptions/{me}/{subid}. The
 * local record is removed even when the peer cannot be told (the peer's failure is in the result's
 * http_status/message, the status is AW_OK). Errors: AW_ENOTFOUND. */
int aw_sub_delete_remote_async(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                               const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out);
int aw_sub_delete_remote(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                         const aw_call_opts *opts, aw_result **out);

/* Pull sync (sdk-api.md §5.4) of one mirror (`subid`), or of every mirror held at `peer_id` (subid NULL:
 * Ref sync_peer). Applies the publisher's pending diffs in order (baseline when they cannot close a gap)
 * and acknowledges. Errors: AW_ENOTFOUND (no such mirror), AW_ENOTRUST, network errors. */
int aw_sub_sync_async(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                      const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out);
int aw_sub_sync(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                const aw_call_opts *opts, aw_result **out);

/* Send one stored diff of a publisher record to its subscriber now, outside the outbox (Ref
 * callback_subscription; for tests and flushing). `seq` 0 = the newest diff. The result is the
 * subscriber's answer. Errors: AW_ENOTFOUND (no such subscription or diff), AW_ENOTRUST, network errors. */
int aw_sub_callback_async(aw_app *app, const char *actor_id, const char *subid, long long seq,
                          const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out);
int aw_sub_callback(aw_app *app, const char *actor_id, const char *subid, long long seq, const aw_call_opts *opts,
                    aw_result **out);

/* ---- local ---- */

/* Subscription records of `actor_id` (both directions), filtered by peer and scope (NULL = any),
 * `direction` -1 any, 0 publisher records, 1 mirrors. *out: a new JSON array. */
int aw_sub_list(aw_app *app, const char *actor_id, const char *peer_id, const char *target, int direction,
                json_t **out);
/* One record by subscription id; *out a new reference. AW_ENOTFOUND when absent. */
int aw_sub_get(aw_app *app, const char *actor_id, const char *subid, json_t **out);

/* Register a change of an application-defined target (Ref notify_subscribers / register_diffs): every
 * overlapping publisher record gets a diff and, for high/low granularity, a callback. `blob` is borrowed.
 * *n_diffs (may be NULL) receives the number of diffs made. */
int aw_sub_notify(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                  const char *resource, json_t *blob, size_t *n_diffs);

/* Suspend diff registration for a target (subtarget NULL/"" = the whole target, covering its
 * subtargets). Idempotent. */
int aw_sub_suspend(aw_app *app, const char *actor_id, const char *target, const char *subtarget);
/* Resume: lifts the suspension and queues one resync callback per affected publisher record (each takes
 * a new sequence number); peers known not to advertise "subscriptionresync" get a full-state diff in
 * low form instead. *queued (may be NULL) receives the count. AW_ENOTFOUND when it was not suspended. */
int aw_sub_resume(aw_app *app, const char *actor_id, const char *target, const char *subtarget, size_t *queued);
/* AW_OK when suspended, AW_ENOTFOUND when not (never a silent "not suspended" on a storage failure). */
int aw_sub_is_suspended(aw_app *app, const char *actor_id, const char *target, const char *subtarget);

/* The data received from `peer_id` (the subscriber's remote store, sdk-api.md §5.6) as one object keyed
 * by the publisher's property names (lists as {"_list": true, "items": [...]}). *out a new reference. */
int aw_remote_get(aw_app *app, const char *actor_id, const char *peer_id, json_t **out);

#ifdef __cplusplus
}
#endif
#endif
