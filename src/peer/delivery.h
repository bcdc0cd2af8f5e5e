/* Publisher-side delivery of subscription callbacks from the durable outbox (sdk-api.md §6). Internal. */
#ifndef AW_PEER_DELIVERY_H
#define AW_PEER_DELIVERY_H

#include <stdint.h>

#include <actingweb/op.h>
#include <jansson.h>

#include "app_internal.h"

/* New jobs were committed (or will be when the current handler's transaction commits): look at the
 * outbox on the next loop turn. Loop thread only; cheap and idempotent. */
void aw_delivery_kick(aw_app *app);
/* The same after a change registered diffs: cursors that ran dry and wait (leased) for the next change
 * also look again on the next loop turn instead of at their next poll. Loop thread only (elsewhere a
 * no-op: the poll finds the diffs). */
void aw_delivery_changed(aw_app *app);
/* Another shard on this storage registered a change and committed it (shards.c): claim and look at the
 * waiting cursors on the next loop turn. Loop thread only. */
void aw_delivery_changed_elsewhere(aw_app *app);

/* Start the workers on app->loop (loop thread); picks up jobs left from earlier runs. */
int aw_delivery_start(aw_app *app);
/* Stop sending; close the handles (counted in app->closing_handles). Jobs stay durable. */
void aw_delivery_shutdown(aw_app *app);
void aw_delivery_free(aw_app *app);
/* Send stored diff `seq` (0 = newest) of publisher record (actor, subid) now, outside the outbox.
 * cb gets the subscriber's answer. Returns a start status (no callback unless AW_OK). */
int aw_delivery_send_now(aw_app *app, const char *actor, const char *subid, int64_t seq, aw_done_cb cb, void *ud);

/* Queue a peer notice that could not be delivered now (trust delete, approval notice) for retries with
 * backoff. The job carries the URL and bearer because the trust may be gone locally. */
int aw_delivery_enqueue_notice(aw_app *app, const char *actor, const char *peerid, const char *method, const char *url,
                               const char *bearer, json_t *body);

/* Counters since start (callbacks acknowledged 2xx, jobs given up). */
void aw_delivery_stats(const aw_app *app, int64_t *delivered, int64_t *failed);

#endif
