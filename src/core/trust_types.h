/* The trust-type registry (protocol.md §5.3, sdk-api.md "trust_types"): the relationship types this
 * server offers, their descriptions (/meta/trusttypes) and base permissions. Immutable after start. */
#ifndef AW_CORE_TRUST_TYPES_H
#define AW_CORE_TRUST_TYPES_H

#include <jansson.h>
#include <stddef.h>

typedef struct aw_trust_type {
    const char *name;
    const char *display_name;
    const char *description;
    const char *base_permissions; /* JSON object: category -> rule block */
} aw_trust_type;

struct aw_app;

/* Registry iteration in offer order: the defaults (associate, viewer, friend, partner, admin, mcp_client),
 * where an application type of the same name replaces the default, then the application's other types
 * (aw_config.trust_types). `app` NULL = the defaults only. */
size_t aw_trust_type_count(const struct aw_app *app);
const aw_trust_type *aw_trust_type_at(const struct aw_app *app, size_t i);
/* Lookup by exact name, NULL when unknown. */
const aw_trust_type *aw_trust_type_find(const struct aw_app *app, const char *name);

/* Base permissions of a type as a parsed JSON object, BORROWED (the defaults from a process-wide immutable
 * cache, application types from the app; never modify, never decref). NULL for an unknown name. */
const json_t *aw_trust_type_permissions(const struct aw_app *app, const char *name);

/* Copy the application's trust types from its config into the app (aw_app_new). AW_EINVAL for a type
 * without a name or with permissions that are not a JSON object. */
int aw_trust_types_load(struct aw_app *app);
void aw_trust_types_free(struct aw_app *app);

#endif
