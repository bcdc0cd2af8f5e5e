/* Property value semantics, nested paths and list-diff shapes. See props.h. */
#include "core/props.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actingweb/status.h>

#include "util/json.h"
#include "util/str.h"

int aw_props_name_check(const char *name)
{
    if (!name) return 400;
    size_t n = strlen(name);
    if (n == 0 || n > AW_PROPS_NAME_MAX) return 400;
    if (strchr(name, '#') || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) return 400;
    if (!strncmp(name, "list:", 5)) return 404;
    if (!aw_utf8_valid(name, n)) return 400;
    return 0;
}

json_t *aw_props_value_json(const char *value, bool is_json)
{
    if (!value) value = "";
    /* Raw text that happens to parse reads back parsed, as a single GET's body would (§6.1: a posted "30"
     * reads back as the number 30); other raw text is a string. */
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    if (v) return v;
    (void)is_json;
    return json_string(value);
}

int aw_props_parse_body(const char *body, size_t len, bool json_ctype, int max_depth, json_t **out, bool *is_json,
                        char why[200])
{
    *out = NULL;
    if (json_ctype) {
        aw_json_err e = aw_json_parse(body, len, max_depth, out, why);
        if (e == AW_JSON_NOMEM) return AW_ENOMEM;
        if (e != AW_JSON_OK) return AW_EINVAL;
        *is_json = true;
        return AW_OK;
    }
    if (memchr(body, '\0', len) || !aw_utf8_valid(body, len)) {
        snprintf(why, 200, "the value is not valid UTF-8 text");
        return AW_EINVAL;
    }
    *out = json_stringn(body, len);
    if (!*out) return AW_ENOMEM;
    *is_json = false;
    return AW_OK;
}

json_t *aw_props_path_get(json_t *root, const char *const *path, size_t n)
{
    json_t *cur = root;
    for (size_t i = 0; i < n && cur; i++) cur = json_is_object(cur) ? json_object_get(cur, path[i]) : NULL;
    return cur;
}

json_t *aw_props_path_wrap(const char *const *path, size_t n, json_t *leaf)
{
    json_t *cur = leaf;
    for (size_t i = n; i-- > 0;) {
        json_t *o = json_object();
        if (!o || !cur || json_object_set_new(o, path[i], cur) != 0) {
            json_decref(o);
            if (!o) json_decref(cur);
            return NULL;
        }
        cur = o;
    }
    return cur;
}

int aw_props_deep_merge(json_t *dst, json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v) {
        json_t *cur = json_object_get(dst, k);
        if (json_is_object(cur) && json_is_object(v)) {
            if (aw_props_deep_merge(cur, v) != AW_OK) return AW_ENOMEM;
        } else {
            json_t *cp = json_deep_copy(v);
            if (!cp || json_object_set_new(dst, k, cp) != 0) return AW_ENOMEM;
        }
    }
    return AW_OK;
}

json_t *aw_props_path_set(json_t *root, const char *const *path, size_t n, json_t *leaf)
{
    if (!json_is_object(root)) {
        json_decref(root);
        root = json_object();
        if (!root) {
            json_decref(leaf);
            return NULL;
        }
    }
    json_t *cur = root;
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *next = json_object_get(cur, path[i]);
        if (!json_is_object(next)) {
            next = json_object();
            if (!next || json_object_set_new(cur, path[i], next) != 0) {
                json_decref(leaf);
                json_decref(root);
                return NULL;
            }
        }
        cur = next;
    }
    json_t *old = json_object_get(cur, path[n - 1]);
    if (json_is_object(old) && json_is_object(leaf)) {
        int r = aw_props_deep_merge(old, leaf);
        json_decref(leaf);
        if (r != AW_OK) {
            json_decref(root);
            return NULL;
        }
    } else if (!leaf || json_object_set_new(cur, path[n - 1], leaf) != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int aw_props_path_del(json_t *root, const char *const *path, size_t n)
{
    if (n == 0) return AW_EINVAL;
    json_t *parent = aw_props_path_get(root, path, n - 1);
    if (!json_is_object(parent) || !json_object_get(parent, path[n - 1])) return AW_ENOTFOUND;
    json_object_del(parent, path[n - 1]);
    return AW_OK;
}

json_t *aw_props_list_diff(const char *list, const char *op, int64_t length, json_t *item, int64_t index)
{
    json_t *d = json_object();
    if (!d) return NULL;
    json_object_set_new(d, "list", json_string(list));
    json_object_set_new(d, "operation", json_string(op));
    json_object_set_new(d, "length", json_integer(length));
    if (item) json_object_set(d, "item", item);
    if (index >= 0) json_object_set_new(d, "index", json_integer(index));
    return d;
}

void aw_props_bulk_free(aw_bulk_op *ops, size_t n)
{
    if (!ops) return;
    for (size_t i = 0; i < n; i++) json_decref(ops[i].item);
    free(ops);
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int aw_props_bulk_plan(json_t *items, int64_t count, aw_bulk_op **ops_out, size_t *nops, size_t *nupdated,
                       size_t *ndeleted, char why[200])
{
    *ops_out = NULL;
    *nops = *nupdated = *ndeleted = 0;
    if (!json_is_array(items)) {
        snprintf(why, 200, "items must be an array");
        return AW_EINVAL;
    }
    size_t n = json_array_size(items);
    /* Validate everything before allocating anything. */
    int64_t projected = count;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(items, i);
        json_t *ix = json_object_get(e, "index");
        if (!json_is_object(e) || !json_is_integer(ix) || json_integer_value(ix) < 0) {
            snprintf(why, 200, "items[%zu] needs an integer index >= 0", i);
            return AW_EINVAL;
        }
        if (json_object_size(e) == 1) continue; /* delete */
        int64_t x = json_integer_value(ix);
        if (x == projected) projected++;
        else if (x > projected) {
            snprintf(why, 200, "items[%zu]: index %lld is beyond the list", i, (long long)x);
            return AW_EINVAL;
        }
    }
    aw_bulk_op *ops = calloc(n ? n : 1, sizeof *ops);
    int64_t *dels = calloc(n ? n : 1, sizeof *dels);
    if (!ops || !dels) {
        free(ops);
        free(dels);
        return AW_ENOMEM;
    }
    size_t k = 0, nd = 0;
    projected = count;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(items, i);
        int64_t x = json_integer_value(json_object_get(e, "index"));
        if (json_object_size(e) == 1) {
            if (x < count) dels[nd++] = x;
            continue;
        }
        json_t *item = json_deep_copy(e);
        if (!item) {
            aw_props_bulk_free(ops, k);
            free(dels);
            return AW_ENOMEM;
        }
        json_object_del(item, "index");
        ops[k].kind = x == projected ? AW_BULK_APPEND : AW_BULK_UPDATE;
        if (x == projected) projected++;
        ops[k].index = x;
        ops[k].item = item;
        k++;
    }
    *nupdated = k;
    qsort(dels, nd, sizeof *dels, cmp_desc);
    size_t kd = 0;
    for (size_t i = 0; i < nd; i++) {
        if (i > 0 && dels[i] == dels[i - 1]) continue;
        ops[k].kind = AW_BULK_DELETE;
        ops[k].index = dels[i];
        ops[k].item = NULL;
        k++;
        kd++;
    }
    free(dels);
    *ndeleted = kd;
    *ops_out = ops;
    *nops = k;
    return AW_OK;
}

int64_t aw_props_parse_index(const char *s)
{
    if (!s || !*s) return -1;
    int64_t v = 0;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++) {
        if (*p < '0' || *p > '9' || n >= 15) return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}
