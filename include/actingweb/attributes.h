/* actingweb/attributes.h — private per-actor JSON documents addressed by (bucket, name)
 * (sdk-api.md §1.4, §2.4). Never exposed over REST (except /devtest when it is on).
 *
 * Local operations, callable from any thread. JSON in is borrowed; JSON out is a new reference.
 * Bucket names starting with "_" or "remote:" are reserved for the library: AW_EINVAL. */
#ifndef ACTINGWEB_ATTRIBUTES_H
#define ACTINGWEB_ATTRIBUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include <actingweb/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Read one attribute. *out = the value; *timestamp (may be NULL) gets a malloc'd ISO timestamp or NULL
 * when none (free with aw_free). Expired values are never returned. AW_ENOTFOUND when absent. */
int aw_attr_get(aw_actor *a, const char *bucket, const char *name, json_t **out, char **timestamp);

/* Upsert. timestamp NULL = none; ttl_s 0 = never expires, > 0 = seconds from now. */
int aw_attr_set(aw_actor *a, const char *bucket, const char *name, json_t *value, const char *timestamp,
                int64_t ttl_s);

/* Compare-and-swap: store `value` only when the current value equals `expected` (NULL = absent; compared
 * as JSON). AW_ECONFLICT when it differs. */
int aw_attr_cas(aw_actor *a, const char *bucket, const char *name, json_t *expected, json_t *value);

/* Delete one attribute. AW_ENOTFOUND when absent (so "this call removed it" is AW_OK, exactly once). */
int aw_attr_delete(aw_actor *a, const char *bucket, const char *name);

/* A whole bucket as {name: {"data": value, "timestamp": ts|null}} (new reference; {} when empty). */
int aw_attr_bucket_get(aw_actor *a, const char *bucket, json_t **out);

/* Drop a bucket (a missing bucket succeeds). */
int aw_attr_bucket_delete(aw_actor *a, const char *bucket);

/* The names of the app's buckets of this actor (reserved buckets left out), sorted (new reference). */
int aw_attr_buckets(aw_actor *a, json_t **out);

#ifdef __cplusplus
}
#endif
#endif
