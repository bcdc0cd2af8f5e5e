/* Placeholder until the permission evaluator lands: nothing configured, the ACL decides. */
#include "core/perms.h"

aw_perm_decision aw_perms_check(aw_app *app, const char *actor_id, const aw_principal *who, const char *category,
                                const char *target, const char *op, int *status)
{
    if (status) *status = AW_OK;
    return AW_PERM_NOT_FOUND;
}
