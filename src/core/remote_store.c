/* Subscriber-side remote store: applying diffs, resyncs and baselines (protocol.md §9.7, §9.9). */
#include <stdlib.h>
#include <string.h>

#include "core/remote_store.h"
#include "util/json.h"
#include "util/str.h"

/* "remote:" + publisher, cut to n - 1 bytes (runs for every callback: no printf). */
static void bucket_name(char *out, size_t n, const char *publisher)
{
    aw_strlcpy(out, "remote:", n);
    size_t l = strlen(out);
    aw_strlcpy(out + l, publisher, n - l);
}

/* Stored form of a value: objects as they are, anything else wrapped. */
static json_t *wrap(json_t *v)
{
    if (json_is_object(v)) return json_incref(v);
    return json_pack("{s:O}", "value", v);
}

static json_t *unwrap(json_t *stored)
{
    if (json_is_object(stored) && json_object_size(stored) == 1 && json_object_get(stored, "value"))
        return json_incref(json_object_get(stored, "value"));
    return json_incref(stored);
}

static bool is_removal(json_t *v) { return !v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)); }

static int load(aw_app *app, const char *actor, const char *bucket, const char *name, json_t **out)
{
    char *txt = NULL;
    *out = NULL;
    int r = aw_app_store(app)->attrs->get(aw_app_store(app), actor, bucket, name, &txt, NULL);
    if (r != AW_OK) return r;
    *out = json_loads(txt, JSON_DECODE_ANY, NULL);
    free(txt);
    return *out ? AW_OK : AW_ESTORAGE;
}

static int save(aw_app *app, const char *actor, const char *bucket, const char *name, json_t *v)
{
    char *txt = aw_json_dump(v);
    if (!txt) return AW_ENOMEM;
    int r = aw_app_store(app)->attrs->set(aw_app_store(app), actor, bucket, name, txt, NULL, 0);
    free(txt);
    return r;
}

static int remove_key(aw_app *app, const char *actor, const char *bucket, const char *name)
{
    int r = aw_app_store(app)->attrs->del(aw_app_store(app), actor, bucket, name);
    return r == AW_ENOTFOUND ? AW_OK : r;
}

/* Recursive merge: "" / null members remove, objects merge, anything else replaces. */
static void deep_merge(json_t *dst, json_t *src)
{
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v) {
        json_t *cur = json_object_get(dst, k);
        if (is_removal(v)) json_object_del(dst, k);
        else if (json_is_object(v) && json_is_object(cur)) deep_merge(cur, v);
        else json_object_set(dst, k, v);
    }
}

/* A §9.7 list diff applied to the mirrored list document. */
static void apply_list_op(json_t *doc, json_t *op)
{
    json_t *items = json_object_get(doc, "items");
    if (!json_is_array(items)) {
        items = json_array();
        json_object_set_new(doc, "items", items);
    }
    const char *o = aw_json_str(op, "operation");
    json_t *item = json_object_get(op, "item");
    json_t *jidx = json_object_get(op, "index");
    json_int_t idx = json_is_integer(jidx) ? json_integer_value(jidx) : -1;
    size_t n = json_array_size(items);
    if (!o) return;
    if (!strcmp(o, "append")) {
        if (item) json_array_append(items, item); /* never at the advisory index */
    } else if (!strcmp(o, "extend")) {
        json_t *more = json_object_get(op, "items");
        if (json_is_array(more)) json_array_extend(items, more);
    } else if (!strcmp(o, "insert")) {
        if (item && idx >= 0 && (size_t)idx <= n) json_array_insert(items, (size_t)idx, item);
        else if (item) json_array_append(items, item);
    } else if (!strcmp(o, "update")) {
        json_t *old = json_object_get(op, "old_item");
        size_t at = (size_t)-1, matches = 0;
        if (old) {
            size_t i;
            json_t *v;
            json_array_foreach(items, i, v) if (json_equal(v, old)) {
                matches++;
                at = i;
            }
            if (matches != 1) at = (size_t)-1;
        }
        if (at == (size_t)-1 && idx >= 0 && (size_t)idx < n) at = (size_t)idx;
        if (at != (size_t)-1 && item) json_array_set(items, at, item);
    } else if (!strcmp(o, "delete") || !strcmp(o, "pop")) {
        if (idx >= 0 && (size_t)idx < n) json_array_remove(items, (size_t)idx);
        else if (!strcmp(o, "pop") && n > 0) json_array_remove(items, n - 1);
    } else if (!strcmp(o, "remove")) {
        size_t i;
        json_t *v;
        json_array_foreach(items, i, v) if (item && json_equal(v, item)) {
            json_array_remove(items, i);
            break;
        }
    } else if (!strcmp(o, "clear") || !strcmp(o, "delete_all")) {
        json_array_clear(items);
    } else if (!strcmp(o, "metadata")) {
        const char *d = aw_json_str(op, "description"), *e = aw_json_str(op, "explanation");
        if (d) json_object_set_new(doc, "description", json_string(d));
        if (e) json_object_set_new(doc, "explanation", json_string(e));
    }
}

static bool is_list_op(json_t *v)
{
    return json_is_object(v) && json_is_string(json_object_get(v, "list")) && json_object_get(v, "operation");
}

static bool is_list_doc(json_t *v) { return json_is_object(v) && json_is_true(json_object_get(v, "_list")); }

/* Apply one top-level key. */
static int apply_key(aw_app *app, const char *actor, const char *bucket, const char *key, json_t *v, bool merge)
{
    char lname[300];
    if (is_list_op(v)) {
        snprintf(lname, sizeof lname, "list:%s", key);
        json_t *doc = NULL;
        int r = load(app, actor, bucket, lname, &doc);
        if (r == AW_ENOTFOUND) doc = json_pack("{s:b,s:[]}", "_list", 1, "items");
        else if (r != AW_OK) return r;
        if (!strcmp(aw_json_str(v, "operation"), "delete_all") && !json_object_get(v, "index")) {
            json_decref(doc);
            return remove_key(app, actor, bucket, lname);
        }
        apply_list_op(doc, v);
        r = save(app, actor, bucket, lname, doc);
        json_decref(doc);
        return r;
    }
    if (is_list_doc(v)) {
        snprintf(lname, sizeof lname, "list:%s", key);
        int r = remove_key(app, actor, bucket, key);
        return r == AW_OK ? save(app, actor, bucket, lname, v) : r;
    }
    if (is_removal(v)) {
        snprintf(lname, sizeof lname, "list:%s", key);
        int r = remove_key(app, actor, bucket, key);
        return r == AW_OK ? remove_key(app, actor, bucket, lname) : r;
    }
    if (merge && json_is_object(v)) {
        json_t *cur = NULL;
        int r = load(app, actor, bucket, key, &cur);
        if (r == AW_OK && json_is_object(cur) && !(json_object_size(cur) == 1 && json_object_get(cur, "value"))) {
            deep_merge(cur, v);
            r = save(app, actor, bucket, key, cur);
            json_decref(cur);
            return r;
        }
        json_decref(cur);
        if (r != AW_OK && r != AW_ENOTFOUND) return r;
    }
    json_t *w = wrap(v);
    int r = save(app, actor, bucket, key, w);
    json_decref(w);
    return r;
}

typedef struct key_list {
    char **names;
    size_t n;
} key_list;

static int collect_names(const char *b, const char *name, const char *json, const char *ts, void *ud)
{
    key_list *k = ud;
    char **p = realloc(k->names, (k->n + 1) * sizeof *p);
    if (!p) return AW_ENOMEM;
    k->names = p;
    k->names[k->n] = strdup(name);
    if (!k->names[k->n]) return AW_ENOMEM;
    k->n++;
    return AW_OK;
}

int aw_remote_apply(aw_app *app, const char *actor, const char *publisher, const char *subtarget, const char *resource,
                    json_t *data, aw_apply_kind kind)
{
    char bucket[128];
    bucket_name(bucket, sizeof bucket, publisher);
    bool replace = kind != AW_APPLY_DIFF;
    bool has_sub = subtarget && *subtarget, has_res = resource && *resource;
    if (!has_sub) {
        if (!json_is_object(data)) return AW_OK; /* whole-target data must be an object */
        int r = AW_OK;
        if (replace) {
            /* Keys absent from the resync go away (clarifications #4). */
            key_list keys = {NULL, 0};
            r = aw_app_store(app)->attrs->each(aw_app_store(app), actor, bucket, collect_names, &keys);
            for (size_t i = 0; i < keys.n; i++) {
                const char *k = keys.names[i];
                const char *plain = strncmp(k, "list:", 5) == 0 ? k + 5 : k;
                if (r == AW_OK && !json_object_get(data, plain)) r = remove_key(app, actor, bucket, k);
                free(keys.names[i]);
            }
            free(keys.names);
        }
        const char *k;
        json_t *v;
        json_object_foreach(data, k, v) {
            if (r != AW_OK) break;
            if (replace && !is_list_doc(v)) {
                char lname[300];
                snprintf(lname, sizeof lname, "list:%s", k);
                r = remove_key(app, actor, bucket, k);
                if (r == AW_OK) r = remove_key(app, actor, bucket, lname);
            }
            if (r == AW_OK) r = apply_key(app, actor, bucket, k, v, !replace);
        }
        return r;
    }
    if (!has_res) {
        if (replace) {
            int r = remove_key(app, actor, bucket, subtarget);
            if (r != AW_OK) return r;
        }
        return apply_key(app, actor, bucket, subtarget, data, !replace);
    }
    /* A single resource: member `resource` of the object stored under `subtarget`. */
    json_t *cur = NULL;
    int r = load(app, actor, bucket, subtarget, &cur);
    if (r == AW_ENOTFOUND || (r == AW_OK && !json_is_object(cur))) {
        json_decref(cur);
        cur = json_object();
        r = AW_OK;
    }
    if (r != AW_OK) return r;
    if (is_removal(data)) json_object_del(cur, resource);
    else json_object_set(cur, resource, data);
    r = save(app, actor, bucket, subtarget, cur);
    json_decref(cur);
    return r;
}

int aw_remote_clear(aw_app *app, const char *actor, const char *publisher)
{
    char bucket[128];
    bucket_name(bucket, sizeof bucket, publisher);
    return aw_app_store(app)->attrs->del_bucket(aw_app_store(app), actor, bucket);
}

static int read_one(const char *b, const char *name, const char *json, const char *ts, void *ud)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    if (!v) return AW_OK;
    if (!strncmp(name, "list:", 5)) json_object_set_new(ud, name + 5, v);
    else {
        json_object_set_new(ud, name, unwrap(v));
        json_decref(v);
    }
    return AW_OK;
}

int aw_remote_read(aw_app *app, const char *actor, const char *publisher, json_t **out)
{
    char bucket[128];
    bucket_name(bucket, sizeof bucket, publisher);
    *out = json_object();
    int r = aw_app_store(app)->attrs->each(aw_app_store(app), actor, bucket, read_one, *out);
    if (r != AW_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return r;
}
