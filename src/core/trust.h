/* Trust relationships (protocol.md §7) as asynchronous operations on the app's loop. Internal.
 *
 * Used by the HTTP handlers (src/http/trust.c), the devtest twin (src/http/devtest_proxy.c), actor
 * deletion (src/core/actor.c) and the public API (include/actingweb/trust.h, src/core/trust_api.c).
 *
 * Every start function runs on the loop thread. It returns AW_OK and later calls `cb` exactly once on
 * the loop (never inside the start call), or fails at once (AW_EINVAL, AW_ENOMEM, AW_ESHUTDOWN) and
 * never calls back. Inputs are borrowed for the duration of the start call only. */
#ifndef AW_CORE_TRUST_H
#define AW_CORE_TRUST_H

#include <jansson.h>
#include <stdbool.h>

#include "app_internal.h"

/* What one trust operation ended with. Valid only during the callback. */
typedef struct aw_trust_outcome {
    int status;              /* AW_OK, or the failure (ENOTFOUND, EINVAL, ECONFLICT, ENET, EPEER, ...) */
    int http_status;         /* the last peer HTTP status, 0 when no answer arrived */
    aw_remote_state remote;  /* whether the peer acted on the last request sent */
    int peer_status;         /* approve/delete: status of the peer notice (AW_OK, or why it failed;
                              * AW_OK also when no notice was needed). Not a failure of the operation. */
    json_t *record;          /* borrowed: the record (§7.1 fields) after the operation; NULL when none */
    const char *message;     /* human text, never NULL */
} aw_trust_outcome;

typedef void (*aw_trust_done)(const aw_trust_outcome *o, void *ud);

/* §7.4/§7.5 steps 0–6 as initiator: validate `url`, GET its /meta, store our record (replacing any
 * record for that peer), POST the request to the peer. Peer 201 → peer_approved. Any other failure
 * removes the stored record and completes with the error (EPEER with http_status, ENET, ETIMEDOUT,
 * EPROTO for a bad /meta). `rel` NULL = cfg.default_relationship; `desc` NULL = "". */
int aw_trust_initiate_start(aw_app *app, const char *actor_id, const char *url, const char *rel,
                            const char *desc, aw_trust_done cb, void *ud);

/* §7.5 steps 3–5 as responder: `body` is the request object (baseuri and id required, else EINVAL;
 * type, secret, desc, verify optional). Verifies through a bearer GET with cfg.net.verify_ms as
 * deadline (a failure only gives verified=false), then stores the record (replacing any record for
 * that peer). ECONFLICT when the secret belongs to another trust. approved = the policy. */
int aw_trust_accept_start(aw_app *app, const char *actor_id, const char *rel, json_t *body, aw_trust_done cb,
                          void *ud);

/* §7.6: apply `changes` ({"approved": true, "baseuri", "desc", "permissions"}, all optional) to the
 * record for `peerid`; `rel` non-NULL must equal the stored relationship (else ENOTFOUND).
 * "approved": false → EINVAL. Saves first; on a false → true change POSTs {"approved":true} to the peer
 * (a failed notice is reported in peer_status, not as the status). */
int aw_trust_modify_start(aw_app *app, const char *actor_id, const char *rel, const char *peerid,
                          json_t *changes, aw_trust_done cb, void *ud);

/* §7.8: with `notify_peer`, DELETE at the peer first (2xx or 404 = success); then delete locally with
 * the cascade, whatever the peer said (clarifications #3; peer_status reports it). ENOTFOUND when no
 * record (or `rel` non-NULL differs). */
int aw_trust_delete_start(aw_app *app, const char *actor_id, const char *rel, const char *peerid,
                          bool notify_peer, aw_trust_done cb, void *ud);
/* As aw_trust_delete_start, naming the origin reported to lifecycle hooks (an aw_event_origin value;
 * aw_trust_delete_start uses AW_ORIGIN_HTTP). */
int aw_trust_delete_start_ex(aw_app *app, const char *actor_id, const char *rel, const char *peerid,
                             bool notify_peer, int origin, aw_trust_done cb, void *ud);

/* Local: set peer_approved = true (the peer's approval notice, §7.6). AW_OK / ENOTFOUND / storage. */
int aw_trust_set_peer_approved(aw_app *app, const char *actor_id, const char *peerid);

/* The §7.1 JSON for a stored record (new reference; NULL on OOM). */
json_t *aw_trust_rec_json(const aw_trust_rec *r);

/* The records of an actor matching `f` (may be NULL) as a JSON array (new reference in *out). */
int aw_trust_list_json(aw_app *app, const char *actor_id, const aw_trust_filter *f, json_t **out);

/* Where /devtest/proxy keeps its twin (§11): JSON {"id", "url", "passphrase"}. Read by actor deletion. */
#define AW_DEVTEST_TWIN_BUCKET "_devtest"
#define AW_DEVTEST_TWIN_NAME "twin"


#endif
