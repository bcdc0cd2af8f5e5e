/* Properties and list properties through the SDK (include/actingweb/properties.h). Storage through the
 * store vtables, value semantics from core/props.c, diffs through aw_changes_register inside the write's
 * transaction — the same pieces the REST path (http/properties*.c) uses. */
#include <stdlib.h>
#include <string.h>

#include <actingweb/properties.h>

#include "core/changes.h"
#include "core/hooks.h"
#include "core/props.h"
#include "core/sdk_internal.h"
#include "util/json.h"

enum { P_GET, P_SET, P_SET_PATH, P_DEL, P_ALL };

typedef struct prop_call {
    aw_sdk_call call;
    aw_actor *a;
    int op;
    const char *name;
    const char *const *path;
    size_t n;
    json_t *value; /* owned working value (after hooks) */
    unsigned flags;
    json_t *out;
} prop_call;

#define STORE(c) aw_app_store((c)->call.app)
#define AID(c) ((c)->a->rec.id)

/* A hook chain outcome as an SDK status. */
static int hook_status(int st)
{
    if (st == AW_HOOKS_WOULDBLOCK) return AW_EWOULDBLOCK;
    if (st == 504) return AW_ETIMEDOUT;
    if (st == 404) return AW_ENOTFOUND;
    if (st >= 400) return AW_EDENIED;
    return AW_OK;
}

static int read_value(aw_store *s, const char *actor, const char *name, json_t **out)
{
    char *v = NULL;
    bool is_json = false;
    int r = s->props->get(s, actor, name, &v, &is_json);
    if (r != AW_OK) return r;
    *out = is_json ? json_loads(v, JSON_DECODE_ANY, NULL) : json_string(v);
    if (!*out) *out = aw_props_value_json(v, is_json);
    free(v);
    return *out ? AW_OK : AW_ENOMEM;
}

/* Register a change unless AW_PROP_NO_NOTIFY. blob stolen. */
static int changed(prop_call *c, const char *sub, const char *res, json_t *blob)
{
    if (!blob) return AW_ENOMEM;
    int r = (c->flags & AW_PROP_NO_NOTIFY) ? AW_OK
                                           : aw_changes_register(c->call.app, AID(c), "properties", sub, res, blob);
    json_decref(blob);
    return r;
}

static int finish_tx(aw_store *s, int r)
{
    if (r == AW_OK) return s->commit(s);
    s->rollback(s);
    return r;
}

static int store_json(aw_store *s, const char *actor, const char *name, json_t *v)
{
    if (json_is_string(v)) return s->props->set(s, actor, name, json_string_value(v), false);
    char *txt = aw_json_dump(v);
    int r = txt ? s->props->set(s, actor, name, txt, true) : AW_ENOMEM;
    free(txt);
    return r;
}

/* The write (or read) after the hooks ran. */
static void apply(prop_call *c)
{
    aw_store *s = STORE(c);
    int r = AW_OK;
    switch (c->op) {
    case P_GET:
        c->out = json_incref(c->value);
        break;
    case P_SET:
        if ((r = s->begin(s, true)) != AW_OK) break;
        r = s->lists->exists(s, AID(c), c->name);
        if (r == AW_OK) r = AW_ECONFLICT;
        else if (r == AW_ENOTFOUND) r = store_json(s, AID(c), c->name, c->value);
        if (r == AW_OK) r = changed(c, c->name, NULL, json_incref(c->value));
        r = finish_tx(s, r);
        break;
    case P_SET_PATH: {
        if ((r = s->begin(s, true)) != AW_OK) break;
        json_t *root = NULL;
        r = s->lists->exists(s, AID(c), c->name);
        if (r == AW_OK) r = AW_ECONFLICT;
        else if (r == AW_ENOTFOUND) {
            r = read_value(s, AID(c), c->name, &root);
            if (r == AW_ENOTFOUND) r = AW_OK;
        }
        if (r == AW_OK) {
            root = aw_props_path_set(root, c->path, c->n, json_incref(c->value));
            r = root ? store_json(s, AID(c), c->name, root) : AW_ENOMEM;
        }
        if (r == AW_OK) {
            json_t *leaf = json_incref(c->value);
            json_t *blob = c->n > 1 ? aw_props_path_wrap(c->path + 1, c->n - 1, leaf) : leaf;
            r = changed(c, c->name, c->path[0], blob);
        }
        json_decref(root);
        r = finish_tx(s, r);
        break;
    }
    case P_DEL:
        if ((r = s->begin(s, true)) != AW_OK) break;
        r = s->props->del(s, AID(c), c->name);
        if (r == AW_OK) r = changed(c, c->name, NULL, json_string(""));
        else if (r == AW_ENOTFOUND) {
            r = s->lists->del(s, AID(c), c->name);
            if (r == AW_OK) r = changed(c, c->name, NULL, aw_props_list_diff(c->name, "delete_all", 0, NULL, -1));
            else if (r == AW_ENOTFOUND) r = AW_OK;
        }
        r = finish_tx(s, r);
        break;
    default:
        r = AW_EINVAL;
    }
    aw_sdk_complete(&c->call, r);
}

static void hooks_done(aw_hook_ctx *ctx, int status, json_t *value, void *ud)
{
    prop_call *c = ud;
    int r = hook_status(status);
    if (r != AW_OK) {
        aw_sdk_complete(&c->call, r);
        return;
    }
    if (status > 0 && !value) value = c->value; /* accepted as is */
    if (value != c->value) {
        json_decref(c->value);
        c->value = json_incref(value);
    }
    apply(c);
}

/* Run the property hooks for `opbit` on c->value, then apply(). */
static void with_hooks(prop_call *c, unsigned opbit, const char *verb)
{
    aw_app *app = c->call.app;
    if ((c->flags & AW_PROP_NO_HOOKS) || !aw_hooks_match(app, AW_HK_PROPERTY, c->name, opbit)) {
        apply(c);
        return;
    }
    aw_hook_ctx *ctx = aw_hooks_ctx_new(app, AW_HK_PROPERTY, c->name, verb);
    const char *segs[17];
    size_t n = 0;
    segs[n++] = c->name;
    for (size_t i = 0; i < c->n && n < 17; i++) segs[n++] = c->path[i];
    if (!ctx || aw_hooks_ctx_set_path(ctx, segs, n) != AW_OK) {
        /* ctx leaks nothing but its own allocation on this OOM path */
        aw_sdk_complete(&c->call, AW_ENOMEM);
        return;
    }
    ctx->actor = aw_actor_ref(c->a);
    ctx->caller = AW_CALLER_SDK;
    ctx->prop_op = opbit;
    ctx->value = c->value ? json_incref(c->value) : NULL;
    aw_hooks_run(ctx, c->call.marshalled, hooks_done, c);
}

static void prop_start(aw_sdk_call *call)
{
    prop_call *c = (prop_call *)call;
    aw_store *s = STORE(c);
    int r;
    switch (c->op) {
    case P_GET:
        r = read_value(s, AID(c), c->name, &c->value);
        if (r != AW_OK) {
            aw_sdk_complete(call, r);
            return;
        }
        with_hooks(c, AW_HOOK_PROP_GET, "GET");
        return;
    case P_SET:
    case P_SET_PATH:
        with_hooks(c, AW_HOOK_PROP_PUT, "PUT");
        return;
    case P_DEL:
        r = read_value(s, AID(c), c->name, &c->value);
        if (r != AW_OK && r != AW_ENOTFOUND) {
            aw_sdk_complete(call, r);
            return;
        }
        with_hooks(c, AW_HOOK_PROP_DELETE, "DELETE");
        return;
    default:
        aw_sdk_complete(call, AW_EINVAL);
    }
}

static int run(aw_actor *a, prop_call *c)
{
    c->a = a;
    int r = aw_sdk_exec(a->app, &c->call, prop_start);
    json_decref(c->value);
    return r;
}

static int check_name(const char *name) { return aw_props_name_check(name) == 0 ? AW_OK : AW_EINVAL; }

int aw_prop_get_ex(aw_actor *a, const char *name, unsigned flags, json_t **out)
{
    if (!a || !out) return AW_EINVAL;
    *out = NULL;
    if (check_name(name) != AW_OK) return AW_EINVAL;
    prop_call c = {.op = P_GET, .name = name, .flags = flags};
    int r = run(a, &c);
    if (r == AW_OK) *out = c.out;
    else json_decref(c.out);
    return r;
}

int aw_prop_get(aw_actor *a, const char *name, json_t **out) { return aw_prop_get_ex(a, name, 0, out); }

int aw_prop_get_path(aw_actor *a, const char *name, const char *const *path, size_t n, json_t **out)
{
    if (!out) return AW_EINVAL;
    *out = NULL;
    json_t *root = NULL;
    int r = aw_prop_get(a, name, &root);
    if (r != AW_OK) return r;
    json_t *m = aw_props_path_get(root, path, n);
    if (m) *out = json_incref(m);
    json_decref(root);
    return m ? AW_OK : AW_ENOTFOUND;
}

int aw_prop_set(aw_actor *a, const char *name, json_t *value, unsigned flags)
{
    if (!a || !value || check_name(name) != AW_OK) return AW_EINVAL;
    prop_call c = {.op = P_SET, .name = name, .flags = flags, .value = json_incref(value)};
    return run(a, &c);
}

int aw_prop_set_path(aw_actor *a, const char *name, const char *const *path, size_t n, json_t *value,
                     unsigned flags)
{
    if (!a || !value || !path || n == 0 || n > 16 || check_name(name) != AW_OK) return AW_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!path[i] || !*path[i]) return AW_EINVAL;
    prop_call c = {.op = P_SET_PATH, .name = name, .path = path, .n = n, .flags = flags, .value = json_incref(value)};
    return run(a, &c);
}

int aw_prop_delete(aw_actor *a, const char *name, unsigned flags)
{
    if (!a || check_name(name) != AW_OK) return AW_EINVAL;
    prop_call c = {.op = P_DEL, .name = name, .flags = flags};
    return run(a, &c);
}

/* ------------------------------------------------------------------ all simple properties */

typedef struct all_ctx {
    prop_call *c;
    json_t *out;
} all_ctx;

static void entry_done(aw_hook_ctx *ctx, int status, json_t *value, void *ud)
{
    json_t **slot = ud;
    if (hook_status(status) != AW_OK) { /* hidden, rejected, or cannot wait: leave it out */
        json_decref(*slot);
        *slot = NULL;
        return;
    }
    if (value && value != *slot) {
        json_decref(*slot);
        *slot = json_incref(value);
    }
}

static int all_each(const char *name, const char *value, bool is_json, void *ud)
{
    all_ctx *x = ud;
    json_t *v = aw_props_value_json(value, is_json);
    if (!v) return AW_ENOMEM;
    aw_app *app = x->c->call.app;
    if (!(x->c->flags & AW_PROP_NO_HOOKS) && aw_hooks_match(app, AW_HK_PROPERTY, name, AW_HOOK_PROP_GET)) {
        aw_hook_ctx *ctx = aw_hooks_ctx_new(app, AW_HK_PROPERTY, name, "GET");
        if (!ctx || aw_hooks_ctx_set_path(ctx, &name, 1) != AW_OK) {
            json_decref(v);
            return AW_ENOMEM;
        }
        ctx->actor = aw_actor_ref(x->c->a);
        ctx->caller = AW_CALLER_SDK;
        ctx->prop_op = AW_HOOK_PROP_GET;
        ctx->value = json_incref(v);
        aw_hooks_run(ctx, false, entry_done, &v); /* synchronous: done runs before this returns */
        if (!v) return 0;
    }
    json_object_set_new(x->out, name, v);
    return 0;
}

static void all_start(aw_sdk_call *call)
{
    prop_call *c = (prop_call *)call;
    all_ctx x = {c, json_object()};
    int r = x.out ? STORE(c)->props->each(STORE(c), AID(c), all_each, &x) : AW_ENOMEM;
    if (r == AW_OK) c->out = x.out;
    else json_decref(x.out);
    aw_sdk_complete(call, r);
}

int aw_prop_all(aw_actor *a, unsigned flags, json_t **out)
{
    if (!a || !out) return AW_EINVAL;
    *out = NULL;
    prop_call c = {.op = P_ALL, .flags = flags, .a = a};
    int r = aw_sdk_exec(a->app, &c.call, all_start);
    if (r == AW_OK) *out = c.out;
    return r;
}
