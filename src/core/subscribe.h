/* Outbound subscription operations (protocol.md §9.2, §9.3, §9.8; sdk-api.md §2.7): subscribe to a
 * peer (with the baseline), unsubscribe, and pull sync of every mirror held at a peer. Callback style,
 * loop thread only; include/actingweb/subscriptions.h wraps them as aw_op operations. */
#ifndef AW_CORE_SUBSCRIBE_H
#define AW_CORE_SUBSCRIBE_H

#include <jansson.h>
#include <stdbool.h>

#include <actingweb/op.h>

#include "app_internal.h"

typedef struct aw_sub_outcome {
    int status;             /* AW_OK or the failure (ENOTRUST, EPEER, ENET, ETIMEDOUT, EPROTO, ...) */
    int http_status;        /* last peer HTTP status, 0 when none */
    aw_remote_state remote;
    json_t *payload;        /* borrowed: {"subscriptionid", "url", "peerid", "target", ...} or NULL */
    const char *message;    /* never NULL */
} aw_sub_outcome;

typedef void (*aw_sub_done)(const aw_sub_outcome *o, void *ud);

/* POST {peer}/subscriptions/{me}; on 201 store the mirror (callback = true) and, with `baseline`, fetch
 * and store the subscribed data before completing. granularity NULL = "high". */
int aw_subscribe_start(aw_app *app, const char *actor, const char *peer, const char *target, const char *subtarget,
                       const char *resource, const char *granularity, bool baseline, aw_sub_done cb, void *ud);

/* DELETE {peer}/subscriptions/{me}/{subid} (2xx or 404 = done), then delete the mirror locally and, for
 * the last mirror to that peer, its remote store. A peer that cannot be reached fails the operation and
 * keeps the mirror (retry later); ENOTFOUND when there is no such mirror. */
int aw_unsubscribe_start(aw_app *app, const char *actor, const char *peer, const char *subid, aw_sub_done cb, void *ud);

/* End a subscription from this side whatever its direction, telling the peer: a mirror is deleted at the
 * publisher (DELETE {peer}/subscriptions/{me}/{subid}), a publisher record at the subscriber (DELETE
 * {peer}/callbacks/subscriptions/{me}/{subid}). The local row goes in any case (the peer cannot block
 * it); the outcome reports the peer's answer. ENOTFOUND when there is no such subscription. */
int aw_sub_end_start(aw_app *app, const char *actor, const char *peer, const char *subid, aw_sub_done cb, void *ud);

/* Pull sync of one mirror, or of every mirror held at `peer` (subid NULL). */
int aw_subsync_start(aw_app *app, const char *actor, const char *peer, const char *subid, aw_sub_done cb, void *ud);

#endif
