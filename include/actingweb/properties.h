/* actingweb/properties.h — properties, nested members and list properties through the SDK
 * (sdk-api.md §1.4, §2.2, §2.3; wire semantics protocol.md §6).
 *
 * Rules shared by every function here:
 *  - Local operations: callable from any thread (see actor.h for how work reaches the loop).
 *  - JSON passed in is borrowed; JSON handed out (*out) is a new reference the caller json_decref()s.
 *  - Writes register subscription diffs (the same shapes as the REST path, protocol.md §9.6/§9.7) in the
 *    same storage transaction as the write, unless AW_PROP_NO_NOTIFY is given.
 *  - Property hooks (hooks.h) run on reads and writes of simple properties unless AW_PROP_NO_HOOKS is
 *    given; a hook rejection gives AW_EDENIED, a hide gives AW_ENOTFOUND, a hook that does not answer in
 *    time AW_ETIMEDOUT. A hook that answers later while the SDK call runs on the loop thread gives
 *    AW_EWOULDBLOCK (the loop cannot wait).
 *  - Values round-trip as JSON. A value stored as raw text over REST reads back as a JSON string (or the
 *    parsed value when the text is JSON, as REST collection reads do). */
#ifndef ACTINGWEB_PROPERTIES_H
#define ACTINGWEB_PROPERTIES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <actingweb/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for writes. */
#define AW_PROP_NO_NOTIFY 0x1u /* do not register a subscription diff */
#define AW_PROP_NO_HOOKS 0x2u  /* do not run property hooks */

/* Read one simple property. AW_ENOTFOUND when absent (or hidden by a hook). flags: AW_PROP_NO_HOOKS. */
int aw_prop_get(aw_actor *a, const char *name, json_t **out);
int aw_prop_get_ex(aw_actor *a, const char *name, unsigned flags, json_t **out);

/* Read the member at path[0..n) inside the JSON object stored under `name`. AW_ENOTFOUND when the
 * property or a step is missing. path strings borrowed. */
int aw_prop_get_path(aw_actor *a, const char *name, const char *const *path, size_t n, json_t **out);

/* Store `value` (borrowed) under `name`, replacing the old value. Hooks may transform the value first.
 * Errors: AW_EINVAL (bad name: empty, '/', '#', "list:" prefix), AW_ECONFLICT (a list has that name),
 * AW_EDENIED (hook), storage statuses. */
int aw_prop_set(aw_actor *a, const char *name, json_t *value, unsigned flags);

/* Deep-merge `value` at path[0..n) (n >= 1) inside `name` (created when missing; a non-object stored
 * value is replaced by an object), as REST nested PUT does. The diff carries resource = path[0]. */
int aw_prop_set_path(aw_actor *a, const char *name, const char *const *path, size_t n, json_t *value,
                     unsigned flags);

/* Delete a simple property (a missing name succeeds) or, when `name` is a list, the list. Registers a ""
 * diff (or a list delete_all diff). Hooks see the current value and may reject. */
int aw_prop_delete(aw_actor *a, const char *name, unsigned flags);

/* Every simple property as one object {name: value} (new reference in *out). Hooks may hide or
 * transform entries (unless AW_PROP_NO_HOOKS). Lists are not included (see aw_list_names). */
int aw_prop_all(aw_actor *a, unsigned flags, json_t **out);

/* ---------------------------------------------------------------- list properties
 * Item ids are stable and never reused. Positions (index) are the current order. Diffs follow §9.7. */

/* Create an empty list. desc/expl may be NULL (""). AW_ECONFLICT when a list or a simple property has
 * that name, AW_EINVAL for a bad name. */
int aw_list_create(aw_actor *a, const char *name, const char *desc, const char *expl, unsigned flags);

/* Append an item (borrowed). *item_id (may be NULL) gets the new item's id. AW_ENOTFOUND: no such list. */
int aw_list_append(aw_actor *a, const char *name, json_t *item, int64_t *item_id, unsigned flags);

/* Insert before position `index` (index == count appends). AW_ENOTFOUND when index > count. */
int aw_list_insert(aw_actor *a, const char *name, int64_t index, json_t *item, int64_t *item_id,
                   unsigned flags);

/* Item at `index` (*out new reference; *item_id may be NULL). AW_ENOTFOUND when out of range. */
int aw_list_get(aw_actor *a, const char *name, int64_t index, json_t **out, int64_t *item_id);

/* Items from `start`, at most `count` (< 0 = all), as an array of
 * {"index": i, "id": item_id, "item": value} (new reference). AW_ENOTFOUND: no such list. */
int aw_list_items(aw_actor *a, const char *name, int64_t start, int64_t count, json_t **out);

/* Replace the item at `index`. AW_ENOTFOUND when out of range. */
int aw_list_update(aw_actor *a, const char *name, int64_t index, json_t *item, unsigned flags);

/* Remove the item at `index`. AW_ENOTFOUND when out of range. */
int aw_list_delete_item(aw_actor *a, const char *name, int64_t index, unsigned flags);

/* Remove the list with its items and metadata. AW_ENOTFOUND when there is no such list. */
int aw_list_delete(aw_actor *a, const char *name, unsigned flags);

/* Metadata {"description", "explanation", "count"} (new reference). AW_ENOTFOUND: no such list. */
int aw_list_get_meta(aw_actor *a, const char *name, json_t **out);

/* Names of every list of the actor as an array of strings (new reference). */
int aw_list_names(aw_actor *a, json_t **out);

#ifdef __cplusplus
}
#endif
#endif
