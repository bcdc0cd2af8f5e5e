/* actingweb/trust.h — trust relationships between actors (protocol.md §7, sdk-api.md §2.5).
 *
 * Every function takes the app and the id of the local actor the trust belongs to. Network operations
 * come in two forms following actingweb/op.h: `aw_trust_X_async(...)` and the blocking `aw_trust_X(...)`.
 *
 * Records are JSON objects with every §7.1 field: id, peerid, baseuri, type, relationship, secret, desc,
 * approved, peer_approved, verified, verification_token (plus created_at, and aw_supported when known).
 * They hold the shared secret: never log them.
 *
 * Threads. Async starts may be made on any thread; a start from another thread is handed to the loop,
 * and then *op_out receives NULL (cancelling is a loop-thread action; start on the loop to get a handle).
 * Callbacks always run on the loop thread. Sync forms must NOT be called on the loop thread (they fail
 * at once with AW_EWOULDBLOCK). aw_trust_get / aw_trust_list touch storage only: call them on the loop
 * thread (storage handles belong to it), or on any thread while the app is not running.
 *
 * Results. For async forms the callback's `res` follows op.h: aw_result_status() is the outcome,
 * aw_result_payload() the record after the operation (borrowed; json_incref to keep it),
 * aw_result_http_status() the last status the peer answered (0 when none), aw_result_remote_state()
 * whether the peer acted, aw_result_message() a human text. Sync forms return the same status and give
 * a result reference in *out (may be NULL when the caller does not want it) to free with
 * aw_result_unref(). Cancelling (aw_op_cancel) completes with AW_ECANCELED at once; a handshake that
 * was cancelled while the peer was being asked has its local record removed again when the peer answers.
 * Options: opts->deadline_ms bounds the whole operation (completion with AW_ETIMEDOUT, compensated like a
 * cancel); each peer request keeps the configured per-attempt limits; the other fields are not used yet.
 * The verification call-back of aw_trust_accept_verified always uses net.verify_ms. */
#ifndef ACTINGWEB_TRUST_H
#define ACTINGWEB_TRUST_H

#include <actingweb/op.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Initiate a trust toward the actor at `peer_url` (its root URI, no trailing slash) — §7.4/§7.5 steps
 * 0–6: read the peer's /meta, store our record (approved, verified, a new secret; an existing record
 * for that peer is replaced), POST the request to the peer; its 201 sets peer_approved, 202 leaves it
 * pending. `relationship` NULL = the configured default_relationship; `desc` NULL = "".
 * Payload: our record. Errors: AW_EINVAL (bad URL or relationship, at start), AW_ENET, AW_ETIMEDOUT,
 * AW_EPROTO (peer /meta without id/type), AW_EPEER (the peer refused; http_status kept), storage errors.
 * On any failure the local record is removed. Never retried (the request is not idempotent). */
int aw_trust_create_reciprocal_async(aw_app *app, const char *actor_id, const char *peer_url,
                                     const char *relationship, const char *desc, const aw_call_opts *opts,
                                     aw_done_cb cb, void *ud, aw_op **op_out);
int aw_trust_create_reciprocal(aw_app *app, const char *actor_id, const char *peer_url,
                               const char *relationship, const char *desc, const aw_call_opts *opts,
                               aw_result **out);

/* Accept an incoming trust request (create_verified_trust, §7.5 steps 3–4). `request` is the body the
 * requester POSTed (borrowed): baseuri and id required; type, secret, desc, verify optional. The
 * requester is verified through a bearer GET (deadline net.verify_ms); a failed verification only gives
 * verified=false. approved = the policy (default relationship with auto-accept). Payload: our record.
 * Errors: AW_EINVAL (missing/invalid fields, at start), AW_ECONFLICT (the secret belongs to another
 * trust of this actor), storage errors. A repeated request from the same peer replaces its record. */
int aw_trust_accept_verified_async(aw_app *app, const char *actor_id, const char *relationship,
                                   json_t *request, const aw_call_opts *opts, aw_done_cb cb, void *ud,
                                   aw_op **op_out);
int aw_trust_accept_verified(aw_app *app, const char *actor_id, const char *relationship, json_t *request,
                             const aw_call_opts *opts, aw_result **out);

/* Approve the trust with `peerid` (modify_trust_and_notify, §7.6): save approved=true first, then on a
 * false → true change POST {"approved":true} to the peer. `changes` (borrowed, may be NULL) may also
 * carry "baseuri", "desc" and "permissions" (an override object, or null to remove it);
 * "approved": false is refused (AW_EINVAL: delete the trust instead). Payload: the record.
 * Errors: AW_ENOTFOUND, AW_EINVAL, storage errors. A failed notice is NOT an error: the status is AW_OK
 * and http_status / remote_state describe the notice (it is not retried until the outbox exists). */
int aw_trust_approve_async(aw_app *app, const char *actor_id, const char *peerid, json_t *changes,
                           const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out);
int aw_trust_approve(aw_app *app, const char *actor_id, const char *peerid, json_t *changes,
                     const aw_call_opts *opts, aw_result **out);

/* Delete the trust with `peerid` (delete_reciprocal_trust, §7.8). With notify_peer, DELETE at the peer
 * first (2xx or 404 = success); the local record (with its permission override, subscriptions and
 * cached peer data) is deleted whatever the peer said — revocation cannot be blocked by the peer
 * (sdk-api §2.9 item 6). Payload: a snapshot of the deleted record. Errors: AW_ENOTFOUND, storage.
 * A peer failure is reported through http_status / remote_state with status AW_OK. */
int aw_trust_delete_async(aw_app *app, const char *actor_id, const char *peerid, int notify_peer,
                          const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out);
int aw_trust_delete(aw_app *app, const char *actor_id, const char *peerid, int notify_peer,
                    const aw_call_opts *opts, aw_result **out);

/* Local lookup: the record with `peerid` as a new JSON reference in *out (json_decref it).
 * Errors: AW_ENOTFOUND, AW_EINVAL, storage errors. */
int aw_trust_get(aw_app *app, const char *actor_id, const char *peerid, json_t **out);

/* Exact-match filters; NULL fields match anything. */
typedef struct aw_trust_list_filter {
    const char *relationship;
    const char *peerid;
    const char *type;        /* the peer's mini-app URN */
} aw_trust_list_filter;

/* Local listing: a JSON array of records (new reference in *out; [] when none). `f` may be NULL.
 * Errors: AW_EINVAL, storage errors. */
int aw_trust_list(aw_app *app, const char *actor_id, const aw_trust_list_filter *f, json_t **out);

#ifdef __cplusplus
}
#endif
#endif
