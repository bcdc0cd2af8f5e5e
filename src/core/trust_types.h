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

/* Registry iteration in offer order (associate, viewer, friend, partner, admin, mcp_client). */
size_t aw_trust_type_count(void);
const aw_trust_type *aw_trust_type_at(size_t i);
/* Lookup by exact name, NULL when unknown. */
const aw_trust_type *aw_trust_type_find(const char *name);

/* Base permissions of a type as a parsed JSON object, BORROWED from a process-wide immutable cache
 * (never modify, never decref; safe to read from any thread). NULL for an unknown name. */
const json_t *aw_trust_type_permissions(const char *name);

#endif
