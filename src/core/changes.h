/* The seam between writes and subscriptions: every successful change of an actor's data is reported
 * here, inside the write's storage transaction, so that diffs (and their sequence numbers) commit
 * atomically with the write (sdk-api.md §6.1). */
#ifndef AW_CORE_CHANGES_H
#define AW_CORE_CHANGES_H

#include <jansson.h>

#include "app_internal.h"
#include "store/store.h"

/* Register one change (protocol.md §6.6, §9.6): target ("properties"), subtarget (top-level name or
 * NULL), resource (second path element or NULL), blob (the JSON value written; a JSON string "" for a
 * deletion; borrowed). Must be called inside an open write transaction on aw_app_store(app). Returns AW_OK or
 * a storage status (the caller then rolls back). */
int aw_changes_register(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                        const char *resource, json_t *blob);
/* As aw_changes_register; *n_diffs receives the number of diffs made. */
int aw_changes_register_n(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                          const char *resource, json_t *blob, size_t *n_diffs);

/* Queue one resync for publisher record `sub` (sdk-api.md §6.7), inside an open write transaction:
 * take a new sequence number, then add a `resync` job, or, when the peer's stored tags lack
 * `subscriptionresync`, store the full state as a diff and add a `diff_low` job. `*full` caches the
 * target's full state across calls (start with NULL; the caller json_decref()s it). Granularity `none`
 * only advances the sequence. *seq (may be NULL) receives the new number, *queued (may be NULL) whether
 * a job was added. Used by resume and by the diff cap's resync. */
int aw_changes_queue_resync(aw_app *app, const aw_sub_rec *sub, json_t **full, int64_t *seq, bool *queued);

#endif
