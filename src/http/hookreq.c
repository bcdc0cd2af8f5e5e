/* See hookreq.h. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "core/perms.h"
#include "core/sdk_internal.h"
#include "http/hookreq.h"
#include "util/json.h"
#include "util/str.h"

static enum MHD_Result query_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    if (key) json_object_set_new(cls, key, json_string(value ? value : ""));
    return MHD_YES;
}

aw_hook_ctx *aw_hookreq_ctx(aw_req *req, aw_hook_kind kind, const char *name, size_t first, json_t *value)
{
    aw_hook_ctx *c = aw_hooks_ctx_new(req->app, kind, name, req->method);
    if (!c) {
        json_decref(value);
        return NULL;
    }
    c->value = value;
    size_t n = req->nseg > first ? req->nseg - first : 0;
    c->query = json_object();
    c->actor = aw_actor_from_rec(req->app, &req->actor);
    if (aw_hooks_ctx_set_path(c, (const char *const *)req->segs + first, n) != AW_OK || !c->query || !c->actor) {
        /* run with a no-op chain is not possible here; free through a trivial run */
        return c;
    }
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_it, c->query);
    aw_strlcpy(c->request_id, req->request_id, sizeof c->request_id);
    switch (req->who.kind) {
    case AW_WHO_CREATOR: c->caller = AW_CALLER_CREATOR; break;
    case AW_WHO_TRUSTEE: c->caller = AW_CALLER_TRUSTEE; break;
    case AW_WHO_PEER:
        c->caller = AW_CALLER_PEER;
        aw_strlcpy(c->peerid, req->who.peerid, sizeof c->peerid);
        aw_strlcpy(c->relationship, req->who.relationship, sizeof c->relationship);
        break;
    default: c->caller = AW_CALLER_ANONYMOUS;
    }
    return c;
}

void aw_hookreq_reply(aw_req *req, int status, json_t *value, int success)
{
    if (status == AW_HOOKS_WOULDBLOCK) status = 500;
    if (status >= 400) {
        if (value) aw_req_reply_json(req, status, json_incref(value));
        else if (status == 504) aw_req_reply_error(req, 504, "the application did not answer in time");
        else if (status == 404) aw_req_reply_error(req, 404, "not found");
        else if (status == 403) aw_req_reply_error(req, 403, "forbidden");
        else aw_req_reply_error(req, status, "refused by the application");
        return;
    }
    int code = status > 0 ? status : success;
    if (code == 204) aw_req_reply_empty(req, 204);
    else aw_req_reply_json(req, code, value ? json_incref(value) : json_null());
}

bool aw_hookreq_body(aw_req *req, json_t **out)
{
    *out = NULL;
    if (req->body.len == 0) return true;
    return aw_req_body_json(req, out);
}

static void callback_done(aw_hook_ctx *ctx, int status, json_t *value, void *ud)
{
    aw_req *req = ud;
    if (status == AW_HOOKS_UNHANDLED) aw_req_reply_error(req, 403, "no handler for this callback");
    else aw_hookreq_reply(req, status, value, 200);
}

void aw_hookreq_callback(aw_req *req, const char *name)
{
    if (!aw_hooks_match(req->app, AW_HK_CALLBACK, name, 0)) {
        aw_req_reply_error(req, 403, "no handler for this callback");
        return;
    }
    json_t *body;
    if (!aw_hookreq_body(req, &body)) return;
    aw_hook_ctx *c = aw_hookreq_ctx(req, AW_HK_CALLBACK, name, 2, body);
    if (!c) {
        aw_req_reply_status(req, AW_ENOMEM, "callback");
        return;
    }
    aw_hooks_run(c, true, callback_done, req);
}

bool aw_hookreq_may(aw_req *req, const char *category, const char *name)
{
    if (req->who.kind == AW_WHO_CREATOR) return true;
    if (req->who.kind == AW_WHO_PEER) {
        if (!req->who.approved) return false;
        int st = AW_OK;
        const char *op = !strcmp(req->method, "GET") ? "read" : !strcmp(req->method, "DELETE") ? "delete" : "write";
        aw_perm_decision d = aw_perms_check(req->app, req->actor.id, &req->who, category, name, op, &st);
        if (st != AW_OK || d == AW_PERM_DENIED) return false;
        if (d == AW_PERM_ALLOWED) return true;
    }
    return aw_acl_allows(&req->who, category, req->method, NULL);
}

const char *aw_hookreq_rpc_gate(aw_req *req, aw_hook_kind kind, const char *category)
{
    if (!aw_req_header(req, "Authorization")) {
        aw_req_reply_error(req, 403, "forbidden");
        return NULL;
    }
    if (!aw_req_authenticate(req)) return NULL;
    if (req->nseg > 2) {
        if (aw_hookreq_may(req, category, req->segs[2])) return req->segs[2];
        aw_req_reply_error(req, 403, "forbidden");
        return NULL;
    }
    if (strcmp(req->method, "GET") != 0) {
        aw_req_reply_error(req, 405, "method not allowed");
        return NULL;
    }
    if (req->who.kind == AW_WHO_TRUSTEE || (req->who.kind == AW_WHO_PEER && !req->who.approved)) {
        aw_req_reply_error(req, 403, "forbidden");
        return NULL;
    }
    json_t *metas[256];
    size_t n = aw_hooks_list(req->app, kind, metas, 256);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n && i < 256; i++)
        if (aw_hookreq_may(req, category, json_string_value(json_object_get(metas[i], "name"))))
            json_array_append(arr, metas[i]);
    if (!arr) aw_req_reply_status(req, AW_ENOMEM, category);
    else aw_req_reply_json(req, 200, json_pack("{s:o}", category, arr));
    return NULL;
}

/* ------------------------------------------------------------------ property hooks */

bool aw_hookreq_prop_match(aw_req *req, const char *name, unsigned op)
{
    return aw_hooks_match(req->app, AW_HK_PROPERTY, name, op);
}

typedef struct prop_run {
    aw_req *req;
    aw_hookreq_prop_cont cont;
    void *ud;
} prop_run;

static void prop_done(aw_hook_ctx *ctx, int status, json_t *value, void *ud)
{
    prop_run pr = *(prop_run *)ud;
    free(ud);
    pr.cont(pr.req, status, value, pr.ud);
}

void aw_hookreq_prop_run(aw_req *req, unsigned op, const char *name, json_t *value, aw_hookreq_prop_cont cont,
                         void *ud)
{
    prop_run *pr = malloc(sizeof *pr);
    aw_hook_ctx *c = pr ? aw_hookreq_ctx(req, AW_HK_PROPERTY, name, 2, value) : NULL;
    if (!c) {
        if (!pr) json_decref(value);
        free(pr);
        cont(req, 503, NULL, ud);
        return;
    }
    *pr = (prop_run){req, cont, ud};
    c->prop_op = op;
    aw_hooks_run(c, true, prop_done, pr);
}

typedef struct sync_out {
    json_t *value;
    int status;
} sync_out;

static void sync_done(aw_hook_ctx *ctx, int status, json_t *value, void *ud)
{
    sync_out *o = ud;
    if (status >= 400) o->status = status;
    else if (status == AW_HOOKS_WOULDBLOCK) o->status = 500;
    else if (value && value != o->value) {
        json_decref(o->value);
        o->value = json_incref(value);
    }
}

int aw_hookreq_prop_sync(aw_req *req, unsigned op, const char *name, json_t **value)
{
    if (!aw_hooks_match(req->app, AW_HK_PROPERTY, name, op)) return 0;
    aw_hook_ctx *c = aw_hooks_ctx_new(req->app, AW_HK_PROPERTY, name, req->method);
    if (!c) return 503;
    const char *seg = name;
    aw_hooks_ctx_set_path(c, &seg, 1);
    c->actor = aw_actor_from_rec(req->app, &req->actor);
    c->caller = req->who.kind == AW_WHO_CREATOR ? AW_CALLER_CREATOR
                : req->who.kind == AW_WHO_PEER  ? AW_CALLER_PEER
                : req->who.kind == AW_WHO_TRUSTEE ? AW_CALLER_TRUSTEE
                                                  : AW_CALLER_ANONYMOUS;
    if (c->caller == AW_CALLER_PEER) {
        aw_strlcpy(c->peerid, req->who.peerid, sizeof c->peerid);
        aw_strlcpy(c->relationship, req->who.relationship, sizeof c->relationship);
    }
    aw_strlcpy(c->request_id, req->request_id, sizeof c->request_id);
    c->prop_op = op;
    c->value = json_incref(*value);
    sync_out o = {json_incref(*value), 0};
    aw_hooks_run(c, false, sync_done, &o); /* synchronous on the loop thread */
    json_decref(*value);
    *value = o.value;
    return o.status;
}

/* Property hooks over the entries of a collection, one entry after the other; each may answer later. */
typedef struct each_run {
    unsigned op;
    json_t *obj;            /* entries; values replaced when transformed (borrowed) */
    json_t *keys;           /* names still to run, in order */
    size_t i;
    aw_hookreq_each_done done;
    void *ud;
} each_run;

static void each_next(aw_req *req, each_run *e);

static void each_cont(aw_req *req, int status, json_t *value, void *ud)
{
    each_run *e = ud;
    const char *name = json_string_value(json_array_get(e->keys, e->i));
    if (status >= 400) {
        if (e->op != AW_HOOK_PROP_GET) { /* a refused write refuses the whole request */
            aw_hookreq_each_done done = e->done;
            void *dud = e->ud;
            json_decref(e->keys);
            free(e);
            done(req, status, dud);
            return;
        }
        json_object_del(e->obj, name); /* a hidden (or refused) read leaves the entry out */
    } else {
        json_object_set(e->obj, name, value ? value : json_null());
    }
    e->i++;
    each_next(req, e);
}

static void each_next(aw_req *req, each_run *e)
{
    if (e->i < json_array_size(e->keys)) {
        const char *name = json_string_value(json_array_get(e->keys, e->i));
        aw_hookreq_prop_run(req, e->op, name, json_incref(json_object_get(e->obj, name)), each_cont, e);
        return;
    }
    aw_hookreq_each_done done = e->done;
    void *dud = e->ud;
    json_decref(e->keys);
    free(e);
    done(req, 0, dud);
}

void aw_hookreq_prop_each(aw_req *req, unsigned op, json_t *obj, aw_hookreq_each_done done, void *ud)
{
    json_t *keys = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        /* List creation and bulk item edits are list operations, not values. */
        if (op == AW_HOOK_PROP_POST && json_is_object(v) && (json_object_get(v, "_type") || json_object_get(v, "items")))
            continue;
        if (aw_hooks_match(req->app, AW_HK_PROPERTY, k, op)) json_array_append_new(keys, json_string(k));
    }
    each_run *e = keys ? calloc(1, sizeof *e) : NULL;
    if (!e) {
        json_decref(keys);
        done(req, 503, ud);
        return;
    }
    *e = (each_run){op, obj, keys, 0, done, ud};
    each_next(req, e);
}
