/* The thin JSON layer over jansson (design.md: keep JSON behind aw_json). */
#ifndef AW_UTIL_JSON_H
#define AW_UTIL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum aw_json_err {
    AW_JSON_OK = 0,
    AW_JSON_SYNTAX,     /* not JSON (includes invalid UTF-8 and duplicate keys) */
    AW_JSON_DEPTH,      /* nested deeper than the limit */
    AW_JSON_NOMEM
} aw_json_err;

/* Strict parse of untrusted input: any JSON value, duplicate keys rejected, invalid UTF-8 rejected,
 * nesting limited to max_depth (<= 0: 64). On success *out is a new reference. `why` (may be NULL)
 * receives a short static-size description of the failure. */
aw_json_err aw_json_parse(const char *buf, size_t len, int max_depth, json_t **out, char why[200]);

/* Quick check whether `buf` parses as JSON at all (lenient depth; used to decide JSON vs raw text). */
bool aw_json_is_json(const char *buf, size_t len);

/* Compact serialisation (jansson JSON_COMPACT | JSON_ENCODE_ANY). Returns malloc'd string or NULL. */
char *aw_json_dump(const json_t *v);

/* Append `s` to `b` as a JSON string literal, quotes included, byte for byte as jansson's json_dumps()
 * writes a json_string (UTF-8 passed through; `"`, `\\` and control characters escaped). For hot paths
 * that would otherwise build a jansson object only to serialise it. false (nothing appended) when `s` is
 * not valid UTF-8, which jansson refuses too. */
struct aw_buf;
bool aw_json_buf_str(struct aw_buf *b, const char *s);

/* Nesting depth of a value (scalars 0, {} 1). */
int aw_json_depth(const json_t *v);

/* Borrowed string member or NULL when missing / not a string. */
const char *aw_json_str(const json_t *obj, const char *key);

/* Boolean member: accepts true/false and the strings "true"/"false" (protocol.md §1.3). */
bool aw_json_bool(const json_t *obj, const char *key, bool dflt);

#endif
