/* Group commit on the loop thread: inbound work arriving in one server turn shares one storage
 * transaction, so a burst of N subscription callbacks costs one commit instead of N.
 *
 * A handler that may share calls aw_group_join(); the first join of a turn opens a write transaction on
 * the loop's store, in which the handler's own begin/commit/rollback become savepoints (a failing member
 * is undone alone). Anything that must not happen before the data is committed (the HTTP answer, data
 * hooks) goes to aw_group_defer(). aw_group_flush() commits and then runs the deferred work with the
 * commit status. The server flushes after every MHD_run and before routing any request that does not
 * join, so nothing but joined work runs inside a group, and no answer leaves before its commit.
 * Loop thread only; a store without group support (or a failed BEGIN) makes join return false and the
 * caller commits on its own. */
#ifndef AW_STORE_GROUP_H
#define AW_STORE_GROUP_H

#include <stdbool.h>

#include "app_internal.h"

typedef void (*aw_group_fn)(void *ud, int commit_status);

/* Open (or join) the current group. false: no group; work as usual. */
bool aw_group_join(aw_app *app);

/* A group is open on this app's loop store. */
bool aw_group_active(const aw_app *app);

/* Run fn(ud, status) once the group ends: status is AW_OK when its data is committed, else the failure
 * (the data is then rolled back). Without an open group, or when out of memory, fn runs at once (after a
 * flush) with the current state. */
void aw_group_defer(aw_app *app, aw_group_fn fn, void *ud);

/* Commit the open group (if any), then run its deferred work in order. Returns the commit status (AW_OK
 * when no group was open). */
int aw_group_flush(aw_app *app);

/* Free the bookkeeping (at app teardown; no group may be open). */
void aw_group_free(aw_app *app);

#endif
