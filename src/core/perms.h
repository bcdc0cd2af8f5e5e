/* Fine-grained peer permissions (protocol.md §5.3, §8): trust-type defaults merged with per-trust
 * overrides, evaluated for one (category, target, operation). */
#ifndef AW_CORE_PERMS_H
#define AW_CORE_PERMS_H

#include <jansson.h>
#include <stdbool.h>

#include "app_internal.h"
#include "core/auth.h"
#include "core/trust_types.h"

typedef enum aw_perm_decision {
    AW_PERM_NOT_FOUND = 0, /* nothing configured: fall back to the ACL */
    AW_PERM_ALLOWED = 1,
    AW_PERM_DENIED = 2
} aw_perm_decision;

/* The permission categories, in document order. */
extern const char *const aw_perm_categories[6]; /* properties methods actions tools resources prompts */
#define AW_PERM_NCATEGORIES 6
bool aw_perms_is_category(const char *name);

/* Decide for a peer principal (`who->kind == AW_WHO_PEER`) on actor `actor_id`.
 * category: "properties", "methods", "actions", "resources", "tools", "prompts".
 * target: e.g. a property name or "name/sub" ("" = the collection itself).
 * op: "read", "write", "delete", "subscribe".
 * A storage failure is reported through *status (AW_OK otherwise) and yields AW_PERM_DENIED
 * (fail closed). Non-peer principals always get AW_PERM_NOT_FOUND. */
aw_perm_decision aw_perms_check(aw_app *app, const char *actor_id, const aw_principal *who, const char *category,
                                const char *target, const char *op, int *status);

/* Effective permission set of (actor, peer) with trust type `relationship`: type defaults merged with
 * the stored override (§5.3 step 1). *out = new object holding all six categories ({} when empty).
 * `custom` (may be NULL) tells whether an override exists. An unknown type counts as empty defaults.
 * Returns AW_OK or a storage status (AW_ESTORAGE also for an unreadable stored override); *out NULL
 * then. */
int aw_perms_effective_ex(aw_app *app, const char *actor, const char *peerid, const char *relationship,
                          json_t **out, bool *custom);
int aw_perms_effective(aw_app *app, const char *actor, const char *peerid, const char *relationship,
                       json_t **out);

/* Base permissions of a trust type as a NEW reference (caller decrefs), NULL when the type is unknown.
 * The document holds the categories the type configures. */
json_t *aw_perms_trust_type_defaults(const aw_app *app, const char *name);

/* Pure evaluation (§5.3 step 3) over defaults and override blocks merged on the fly; either may be
 * NULL. Used by aw_perms_check; exposed for tests and callers that hold the documents already. */
aw_perm_decision aw_perms_evaluate(const json_t *defaults, const json_t *override, const char *category,
                                   const char *target, const char *op);

/* Merge an override onto defaults (§5.3 step 1): per category, "patterns" and "excluded_patterns"
 * are unioned (defaults first, no duplicates), every other key replaced by the override's. Only the
 * six categories are merged. Returns a new object; NULL inputs count as {}. */
json_t *aw_perms_merge(const json_t *defaults, const json_t *override);

/* Glob of §5.3 step 4: '*' any run (including '/'), '?' one character, anchored at both ends;
 * a pattern ending in "://" also matches as a prefix. */
bool aw_perms_glob(const char *pattern, const char *text);

/* The stored override of (actor, peer) as parsed JSON (new ref). AW_ENOTFOUND when none; a stored
 * document that does not parse as an object gives AW_ESTORAGE. */
int aw_perms_override_get(aw_app *app, const char *actor, const char *peerid, json_t **out);

/* Validate and normalise an override update (§8.1 PUT body / §7.11 "permissions" member): must be an
 * object; each given category must be an object (or, for "properties", a list of patterns: the
 * shorthand for {"patterns": [...], "operations": ["read"]}); the rule keys patterns/excluded_patterns/
 * operations/allowed/denied must be lists of strings; "notes" must be a string. Returns a new object
 * holding only the categories (normalised) and notes, or NULL with a static reason in *why. */
json_t *aw_perms_normalize_update(const json_t *body, const char **why);

/* Apply a normalised update to the override of (actor, peer) in one write transaction (so do not call
 * it inside another one): each given category replaces that category of the stored override (others
 * stay), updated_at is set, created_by is kept (or set to `by` when creating). AW_ENOTFOUND when there
 * is no trust with that peer or its relationship differs from `relationship` (NULL = any). *created
 * tells whether the override was new. Returns AW_OK or a storage status. */
int aw_perms_override_apply(aw_app *app, const char *actor, const char *peerid, const char *relationship,
                            const json_t *update, const char *by, bool *created);

#endif
