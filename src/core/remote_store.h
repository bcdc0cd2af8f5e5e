/* The subscriber's store of data received from a publisher (sdk-api.md §5.6): attribute bucket
 * "remote:<publisher-id>", one attribute per top-level property name of the publisher. Simple values
 * that are objects are stored as they are, other values wrapped as {"value": v} (the Ref layout); a
 * mirrored list is stored whole under "list:<name>" as {"_list": true, "items": [...], ...}. */
#ifndef AW_CORE_REMOTE_STORE_H
#define AW_CORE_REMOTE_STORE_H

#include <jansson.h>

#include "app_internal.h"

typedef enum aw_apply_kind {
    AW_APPLY_DIFF = 0,     /* merge: members set, "" or null removes, list operations applied */
    AW_APPLY_RESYNC = 1,   /* replace the subscription's scope: keys absent from `data` are removed */
    AW_APPLY_BASELINE = 2  /* like resync */
} aw_apply_kind;

/* Apply `data` (as delivered for a subscription on subtarget/resource; "" = none) to the remote store
 * of (actor, publisher). Must run inside a write transaction. Returns a storage status. */
int aw_remote_apply(aw_app *app, const char *actor, const char *publisher, const char *subtarget,
                    const char *resource, json_t *data, aw_apply_kind kind);

/* Remove the whole remote store of one publisher. */
int aw_remote_clear(aw_app *app, const char *actor, const char *publisher);

/* Read the stored data of one publisher as a properties-shaped object (lists as {"_list":..,"items"}).
 * *out is a new reference. */
int aw_remote_read(aw_app *app, const char *actor, const char *publisher, json_t **out);

#endif
