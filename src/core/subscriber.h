/* Subscriber-side processing (sdk-api.md §5, protocol.md §9.9): sequencing of inbound callbacks, the
 * gap timer, pull sync, acknowledgements, baseline. Internal. */
#ifndef AW_CORE_SUBSCRIBER_H
#define AW_CORE_SUBSCRIBER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "app_internal.h"

/* Completion of an inbound callback: the HTTP status to answer (204, 400, ...). */
typedef void (*aw_sub_reply_fn)(void *ud, int http_status, const char *message);

/* Process one inbound callback body for the mirror (actor, subid) held at `publisher`. The body was
 * already authenticated and parsed. `reply` runs exactly once, on the loop, possibly later (fetches).
 * `known`, when not NULL, is the mirror's record read in the transaction this processing joins (a group
 * commit, store/group.h): it is taken over (moved out) instead of being read again. */
void aw_subscriber_receive(aw_app *app, const char *actor, const char *subid, json_t *body, aw_sub_rec *known,
                           aw_sub_reply_fn reply, void *ud);

/* Pull sync of one mirror (sdk-api.md §5.4): GET the diffs, apply those above the last applied
 * sequence in order (baseline when they cannot close the gap), PUT the acknowledgement.
 * `done(ud, status, applied)` runs once on the loop (may be NULL). */
typedef void (*aw_sync_done_fn)(void *ud, int status, int applied);
void aw_subscriber_sync(aw_app *app, const char *actor, const char *subid, aw_sync_done_fn done, void *ud);

/* Baseline (sdk-api.md §5.5): GET the subscribed scope and store it; last applied = `publisher_seq`. */
void aw_subscriber_baseline(aw_app *app, const char *actor, const char *subid, int64_t publisher_seq,
                            aw_sync_done_fn done, void *ud);

/* After a mirror was removed: drop the remote store of `publisher` when no mirror to it is left. */
int aw_subscriber_forget_publisher_if_unused(aw_app *app, const char *actor, const char *publisher);

/* Periodic work: gap timers and acknowledgements. Started/stopped with the app. */
int aw_subscriber_start(aw_app *app);
void aw_subscriber_shutdown(aw_app *app);
void aw_subscriber_free(aw_app *app);

/* The acknowledgement rule (sdk-api.md §5.7): whether a round of acknowledgements is due at monotonic time
 * `now` (ms), given the last round and the last callback received. At most one round every 2 s; while
 * callbacks keep arriving, only once they pause for 0.5 s, or 10 s after the last round. Pure. */
bool aw_subscriber_ack_due(uint64_t now, uint64_t last_ack, uint64_t last_rx);

/* A pending callback was queued: make sure the gap check runs within the gap timeout. */
void aw_subscriber_arm_gap(aw_app *app);

#endif
