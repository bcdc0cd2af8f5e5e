/* The seam between writes and subscriptions: every successful change of an actor's data is reported
 * here, inside the write's storage transaction, so that diffs (and their sequence numbers) commit
 * atomically with the write (sdk-api.md §6.1). */
#ifndef AW_CORE_CHANGES_H
#define AW_CORE_CHANGES_H

#include <jansson.h>

#include "app_internal.h"

/* Register one change (protocol.md §6.6, §9.6): target ("properties"), subtarget (top-level name or
 * NULL), resource (second path element or NULL), blob (the JSON value written; a JSON string "" for a
 * deletion; borrowed). Must be called inside an open write transaction on aw_app_store(app). Returns AW_OK or
 * a storage status (the caller then rolls back). */
int aw_changes_register(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                        const char *resource, json_t *blob);
/* As aw_changes_register; *n_diffs receives the number of diffs made. */
int aw_changes_register_n(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                          const char *resource, json_t *blob, size_t *n_diffs);

#endif
