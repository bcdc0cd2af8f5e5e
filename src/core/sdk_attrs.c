/* Attributes through the SDK (include/actingweb/attributes.h) over the store's attribute vtable. Bucket
 * names starting with "_" or "remote:" belong to the library and are refused. */
#include <stdlib.h>
#include <string.h>

#include <actingweb/attributes.h>

#include "core/sdk_internal.h"
#include "util/json.h"

enum { A_GET, A_SET, A_CAS, A_DEL, A_BUCKET, A_BUCKET_DEL, A_BUCKETS };

typedef struct attr_call {
    aw_sdk_call call;
    aw_actor *a;
    int op;
    const char *bucket, *name, *timestamp;
    json_t *value, *expected;
    int64_t ttl;
    json_t *out;
    char *ts_out;
} attr_call;

static bool reserved(const char *b) { return b[0] == '_' || !strncmp(b, "remote:", 7); }

static json_t *parse(const char *txt)
{
    json_t *v = json_loads(txt, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(txt);
}

static int bucket_cb(const char *bucket, const char *name, const char *json, const char *ts, void *ud)
{
    json_t *v = parse(json);
    json_t *e = json_pack("{s:o,s:o}", "data", v, "timestamp", ts ? json_string(ts) : json_null());
    return e && json_object_set_new(ud, name, e) == 0 ? 0 : AW_ENOMEM;
}

static int buckets_cb(const char *bucket, const char *name, const char *json, const char *ts, void *ud)
{
    json_t *arr = ud;
    size_t n = json_array_size(arr);
    if (reserved(bucket)) return 0;
    if (n && !strcmp(json_string_value(json_array_get(arr, n - 1)), bucket)) return 0;
    return json_array_append_new(arr, json_string(bucket)) == 0 ? 0 : AW_ENOMEM;
}

static void attr_start(aw_sdk_call *call)
{
    attr_call *c = (attr_call *)call;
    aw_store *s = aw_app_store(call->app);
    const char *id = c->a->rec.id;
    int r = AW_OK;
    char *txt = NULL, *cur = NULL;
    if (c->value && !(txt = aw_json_dump(c->value))) {
        aw_sdk_complete(call, AW_ENOMEM);
        return;
    }
    switch (c->op) {
    case A_GET:
        r = s->attrs->get(s, id, c->bucket, c->name, &cur, &c->ts_out);
        if (r == AW_OK && !(c->out = parse(cur))) r = AW_ENOMEM;
        break;
    case A_SET: r = s->attrs->set(s, id, c->bucket, c->name, txt, c->timestamp, c->ttl); break;
    case A_CAS: {
        /* Compare as JSON, then swap against the exact stored text. */
        r = s->attrs->get(s, id, c->bucket, c->name, &cur, NULL);
        if (r == AW_ENOTFOUND) {
            r = c->expected ? AW_ECONFLICT : s->attrs->cas(s, id, c->bucket, c->name, NULL, txt, NULL);
            break;
        }
        if (r != AW_OK) break;
        json_t *now = parse(cur);
        bool eq = c->expected && now && json_equal(now, c->expected);
        json_decref(now);
        r = eq ? s->attrs->cas(s, id, c->bucket, c->name, cur, txt, NULL) : AW_ECONFLICT;
        break;
    }
    case A_DEL: r = s->attrs->del(s, id, c->bucket, c->name); break;
    case A_BUCKET:
        c->out = json_object();
        r = c->out ? s->attrs->each(s, id, c->bucket, bucket_cb, c->out) : AW_ENOMEM;
        break;
    case A_BUCKET_DEL:
        r = s->attrs->del_bucket(s, id, c->bucket);
        if (r == AW_ENOTFOUND) r = AW_OK;
        break;
    case A_BUCKETS:
        c->out = json_array();
        r = c->out ? s->attrs->each(s, id, NULL, buckets_cb, c->out) : AW_ENOMEM;
        break;
    }
    free(txt);
    free(cur);
    if (r != AW_OK) {
        json_decref(c->out);
        c->out = NULL;
        free(c->ts_out);
        c->ts_out = NULL;
    }
    aw_sdk_complete(call, r);
}

static int run(aw_actor *a, attr_call *c, bool need_name)
{
    if (!a) return AW_EINVAL;
    if (c->op != A_BUCKETS && (!c->bucket || !*c->bucket || reserved(c->bucket))) return AW_EINVAL;
    if (need_name && (!c->name || !*c->name)) return AW_EINVAL;
    c->a = a;
    return aw_sdk_exec(a->app, &c->call, attr_start);
}

int aw_attr_get(aw_actor *a, const char *bucket, const char *name, json_t **out, char **timestamp)
{
    if (!out) return AW_EINVAL;
    *out = NULL;
    if (timestamp) *timestamp = NULL;
    attr_call c = {.op = A_GET, .bucket = bucket, .name = name};
    int r = run(a, &c, true);
    if (r == AW_OK) *out = c.out;
    if (timestamp) *timestamp = c.ts_out;
    else free(c.ts_out);
    return r;
}

int aw_attr_set(aw_actor *a, const char *bucket, const char *name, json_t *value, const char *timestamp,
                int64_t ttl_s)
{
    if (!value || ttl_s < 0) return AW_EINVAL;
    attr_call c = {.op = A_SET, .bucket = bucket, .name = name, .value = value, .timestamp = timestamp, .ttl = ttl_s};
    return run(a, &c, true);
}

int aw_attr_cas(aw_actor *a, const char *bucket, const char *name, json_t *expected, json_t *value)
{
    if (!value) return AW_EINVAL;
    attr_call c = {.op = A_CAS, .bucket = bucket, .name = name, .value = value, .expected = expected};
    return run(a, &c, true);
}

int aw_attr_delete(aw_actor *a, const char *bucket, const char *name)
{
    attr_call c = {.op = A_DEL, .bucket = bucket, .name = name};
    return run(a, &c, true);
}

int aw_attr_bucket_get(aw_actor *a, const char *bucket, json_t **out)
{
    if (!out) return AW_EINVAL;
    *out = NULL;
    attr_call c = {.op = A_BUCKET, .bucket = bucket};
    int r = run(a, &c, false);
    if (r == AW_OK) *out = c.out;
    return r;
}

int aw_attr_bucket_delete(aw_actor *a, const char *bucket)
{
    attr_call c = {.op = A_BUCKET_DEL, .bucket = bucket};
    return run(a, &c, false);
}

int aw_attr_buckets(aw_actor *a, json_t **out)
{
    if (!out) return AW_EINVAL;
    *out = NULL;
    attr_call c = {.op = A_BUCKETS};
    int r = run(a, &c, false);
    if (r == AW_OK) *out = c.out;
    return r;
}
