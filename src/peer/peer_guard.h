/* Per-peer guards of subscription delivery (sdk-api.md §6.3): a circuit breaker (5 failures in a row open it
 * for 60 s, doubling to 15 min; then one trial) and 503 pauses (Retry-After, or a backoff that doubles with
 * each 503 in a row). Both are kept in storage, so other shards on the database and a restarted process
 * honour them. Internal; loop thread. */
#ifndef AW_PEER_GUARD_H
#define AW_PEER_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "app_internal.h"

/* Delivery's one backoff schedule, for retries and 503 pauses alike: 1 s × 2ⁿ ±20 %, capped at 5 min. */
#define AW_DELIVERY_BACKOFF_BASE_MS 1000
#define AW_DELIVERY_BACKOFF_CAP_MS 300000

typedef struct aw_peer_guard {
    aw_app *app;
    bool breaker_known; /* some peer may have breaker state in storage (else the reads are skipped) */
    bool pauses_known;  /* some peer may have a 503 pause stored (else successes skip clearing it) */
} aw_peer_guard;

/* Bind to app and look up whether any breaker state or pause is stored (earlier runs, other shards). */
void aw_guard_init(aw_peer_guard *g, aw_app *app);
/* Look up again whether a pause is stored (one row at most): lets a success here clear one another shard
 * stored. */
void aw_guard_refresh_pauses(aw_peer_guard *g);

/* The breaker of (actor, peer) is open: true, and its end in *until. */
bool aw_guard_breaker_open(aw_peer_guard *g, const char *actor, const char *peerid, int64_t *until);
/* Count a delivery to the peer: a success closes the breaker, a failure counts towards opening it. */
void aw_guard_breaker_record(aw_peer_guard *g, const char *actor, const char *peerid, bool ok);

/* A 503 from the peer: pause every job of (actor, peer) for Retry-After when given (ms, 0 = none), else for
 * 1 s × 2ⁿ ±20 % (n: the 503s in a row; cap 5 min; a 503 more than 5 min after the last pause ended starts
 * at 1 s again). Returns the pause in ms. */
int64_t aw_guard_pause_peer(aw_peer_guard *g, const char *actor, const char *peerid, uint32_t retry_after_ms);
/* While a pause of the peer lasts: true, and its end in *until. */
bool aw_guard_peer_paused(aw_peer_guard *g, const char *actor, const char *peerid, int64_t *until);
/* A delivered callback ends the peer's backoff sequence. */
void aw_guard_pause_end(aw_peer_guard *g, const char *actor, const char *peerid);

#endif
