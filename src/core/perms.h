/* Fine-grained peer permissions (protocol.md §5.3, §8): trust-type defaults merged with per-trust
 * overrides, evaluated for one (category, target, operation). */
#ifndef AW_CORE_PERMS_H
#define AW_CORE_PERMS_H

#include "app_internal.h"
#include "core/auth.h"

typedef enum aw_perm_decision {
    AW_PERM_NOT_FOUND = 0, /* nothing configured: fall back to the ACL */
    AW_PERM_ALLOWED = 1,
    AW_PERM_DENIED = 2
} aw_perm_decision;

/* Decide for a peer principal (`who->kind == AW_WHO_PEER`) on actor `actor_id`.
 * category: "properties", "methods", "actions", "resources", "tools", "prompts".
 * target: e.g. a property name or "name/sub" ("" = the collection itself).
 * op: "read", "write", "delete", "subscribe".
 * A storage failure is reported through *status (AW_OK otherwise) and yields AW_PERM_DENIED
 * (fail closed). Non-peer principals always get AW_PERM_NOT_FOUND. */
aw_perm_decision aw_perms_check(aw_app *app, const char *actor_id, const aw_principal *who, const char *category,
                                const char *target, const char *op, int *status);

#endif
