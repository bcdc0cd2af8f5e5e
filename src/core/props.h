/* Property value semantics, nested paths and list-diff shapes (protocol.md §6, §9.7). Pure logic: no HTTP,
 * no storage. */
#ifndef AW_CORE_PROPS_H
#define AW_CORE_PROPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AW_PROPS_NAME_MAX 255

/* Check a top-level property name: 0 = fine; 404 = internal name ("list:..."); 400 = empty, longer than
 * AW_PROPS_NAME_MAX bytes, contains '#' or '/', or is a dot segment. */
int aw_props_name_check(const char *name);

/* The stored form of a value as JSON, for collection reads: a JSON value parsed; raw text parsed when it
 * happens to be JSON (as a client reading the single value would see it), else a JSON string. New
 * reference (NULL only on OOM). */
json_t *aw_props_value_json(const char *value, bool is_json);

/* Interpret a PUT body (§6.1, clarifications #2): with a JSON content type it must parse strictly
 * (duplicates, UTF-8, depth <= max_depth) and *out is that value; any other content type gives the raw text
 * as a JSON string (must be valid UTF-8). *is_json tells which. Returns AW_OK, AW_EINVAL (why filled) or
 * AW_ENOMEM. An empty body is not handled here (it means delete). */
int aw_props_parse_body(const char *body, size_t len, bool json_ctype, int max_depth, json_t **out, bool *is_json,
                        char why[200]);

/* The member at path[0..n) below root (borrowed), or NULL when a step is missing or not an object. n == 0
 * yields root. */
json_t *aw_props_path_get(json_t *root, const char *const *path, size_t n);

/* Build {path[0]: {...: {path[n-1]: leaf}}} (leaf stolen; n >= 1); new reference or NULL on OOM. */
json_t *aw_props_path_wrap(const char *const *path, size_t n, json_t *leaf);

/* Merge src into dst: objects member by member, recursively; anything else replaces. src is borrowed. */
int aw_props_deep_merge(json_t *dst, json_t *src);

/* Deep-merge the value `leaf` at path[0..n) (n >= 1) into `root` (stolen; NULL or a non-object is replaced
 * by a new object); intermediate objects are created and non-objects on the way replaced. leaf is stolen.
 * Returns the new root (new reference) or NULL on OOM. */
json_t *aw_props_path_set(json_t *root, const char *const *path, size_t n, json_t *leaf);

/* Remove the member at path[0..n) (n >= 1) from root. AW_OK, or AW_ENOTFOUND when a step is missing or a
 * step is not an object. */
int aw_props_path_del(json_t *root, const char *const *path, size_t n);

/* §9.7 list diff: {"list", "operation", "length", ["item"], ["index"]}; item borrowed (NULL = none),
 * index < 0 = none. New reference. */
json_t *aw_props_list_diff(const char *list, const char *op, int64_t length, json_t *item, int64_t index);

/* §6.7.5 bulk edit plan. */
typedef enum { AW_BULK_UPDATE = 1, AW_BULK_APPEND, AW_BULK_DELETE } aw_bulk_kind;
typedef struct aw_bulk_op {
    aw_bulk_kind kind;
    int64_t index;   /* for APPEND the index the item lands at */
    json_t *item;    /* owned; NULL for DELETE */
} aw_bulk_op;

/* Validate `items` (must be an array) against a list of `count` items and produce the ordered operations
 * (updates/appends in given order, then deletes descending, de-duplicated, those beyond the list dropped).
 * AW_OK, AW_EINVAL (why filled; nothing allocated) or AW_ENOMEM. Free with aw_props_bulk_free. */
int aw_props_bulk_plan(json_t *items, int64_t count, aw_bulk_op **ops, size_t *nops, size_t *nupdated,
                       size_t *ndeleted, char why[200]);
void aw_props_bulk_free(aw_bulk_op *ops, size_t n);

/* Parse a non-negative decimal index ("0", "17"; no sign, no spaces, < 10^15). -1 when not one. */
int64_t aw_props_parse_index(const char *s);

#endif
