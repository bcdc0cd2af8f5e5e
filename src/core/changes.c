/* Placeholder until subscriptions land: no subscriber, nothing to record. */
#include "core/changes.h"

int aw_changes_register(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                        const char *resource, json_t *blob)
{
    return AW_OK;
}
