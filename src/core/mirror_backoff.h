/* Per-mirror backoff of the subscriber's timer (core/subscriber.c): while its requests for a mirror (pull
 * syncs, acknowledgements) fail, because the publisher is down or its scope cannot be read, the timer leaves
 * that publisher alone for 1 s, 2 s, 4 s ... up to 60 s (aw_backoff_ms: ±20 % jitter). A mirror recovers
 * within about twice its publisher's outage, and a dead publisher gets no request per mirror per second.
 * In memory, per app: a restart tries at once. Loop thread only. */
#ifndef AW_CORE_MIRROR_BACKOFF_H
#define AW_CORE_MIRROR_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

typedef struct aw_mirror_backoff aw_mirror_backoff;

/* An empty table (NULL when out of memory: every mirror is then always due). */
aw_mirror_backoff *aw_mirror_backoff_new(void);
void aw_mirror_backoff_free(aw_mirror_backoff *b);

/* A request for mirror (actor, subid) ended: `ok` forgets its failures; otherwise one more is counted and its
 * next try set from now_ms. */
void aw_mirror_backoff_note(aw_mirror_backoff *b, const char *actor, const char *subid, bool ok, int64_t now_ms);

/* Whether the timer may contact the mirror's publisher at now_ms: no failures, or its next try is due. */
bool aw_mirror_backoff_due(const aw_mirror_backoff *b, const char *actor, const char *subid, int64_t now_ms);

/* The failures counted for the mirror (0 when none). */
unsigned aw_mirror_backoff_fails(const aw_mirror_backoff *b, const char *actor, const char *subid);

/* Forget the mirrors whose next try is more than 10 minutes past at now_ms: they are gone (a failing mirror is
 * retried within a minute of its due time). */
void aw_mirror_backoff_sweep(aw_mirror_backoff *b, int64_t now_ms);

#endif
