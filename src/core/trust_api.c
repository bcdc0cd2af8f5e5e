/* The public trust API (include/actingweb/trust.h) over core/trust.c: each async form wraps one core
 * operation in a custom aw_op (cancellable, counted by the engine so shutdown completes it), and each
 * sync form is aw_sync_call() over the async start. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <actingweb/trust.h>

#include "core/trust.h"
#include "peer/internal.h"

typedef enum { K_CREATE, K_ACCEPT, K_APPROVE, K_DELETE } api_kind;

typedef struct api_call {
    aw_app *app;
    api_kind kind;
    char *actor_id;
    char *s1, *s2, *s3;  /* create: url, relationship, desc; accept: relationship; approve/delete: peerid */
    json_t *j;           /* accept: request; approve: changes */
    int flag;            /* delete: notify_peer */
    aw_done_cb cb;
    void *ud;
    aw_op *op;           /* valid until completed or cancelled */
    bool canceled;
    uint32_t deadline_ms;/* whole operation; 0 = none beyond each request's own limits */
    aw_tnode deadline;   /* armed while the op runs */
} api_call;

static void call_free(api_call *c)
{
    free(c->actor_id);
    free(c->s1);
    free(c->s2);
    free(c->s3);
    json_decref(c->j);
    free(c);
}

static void ignore_outcome(const aw_trust_outcome *o, void *ud) {}

static void core_done(const aw_trust_outcome *o, void *ud)
{
    api_call *c = ud;
    aw_peer_timer_stop(aw_peer_eng(c->app), &c->deadline);
    if (c->canceled) {
        /* Compensation: the caller gave up on a handshake that went through after all. */
        if (c->kind == K_CREATE && o->status == AW_OK && o->record)
            aw_trust_delete_start(c->app, c->actor_id, NULL, json_string_value(json_object_get(o->record, "peerid")),
                                  true, ignore_outcome, NULL);
        call_free(c);
        return;
    }
    aw_result *r = aw_result_new(o->status);
    if (r) {
        r->http_status = o->http_status;
        r->remote_state = o->remote;
        r->payload = o->record ? json_incref(o->record) : NULL;
        aw_result_setmsg(r, "%s", o->message);
    }
    aw_op *op = c->op;
    call_free(c);
    aw_op_custom_complete(op, r, false); /* we are on a later loop turn already */
}

/* Give up on the operation: the caller hears `status` now; the core operation runs to its end and
 * core_done compensates then. */
static void abandon(api_call *c, int status, bool defer)
{
    aw_op *op = c->op;
    aw_peer_timer_stop(aw_peer_eng(c->app), &c->deadline);
    c->canceled = true;
    c->op = NULL;
    aw_result *r = aw_result_new(status);
    if (r) aw_result_setmsg(r, "trust operation: %s", aw_strerror(status));
    aw_op_custom_complete(op, r, defer);
}

static void on_cancel(aw_op *op, int status, void *cud) { abandon(cud, status, true); }

static void on_deadline(aw_tnode *n)
{
    api_call *c = (api_call *)((char *)n - offsetof(api_call, deadline));
    if (c->op) abandon(c, AW_ETIMEDOUT, false); /* a timer callback: not inside a start call */
}

static int start_core(api_call *c)
{
    switch (c->kind) {
    case K_CREATE: return aw_trust_initiate_start(c->app, c->actor_id, c->s1, c->s2, c->s3, core_done, c);
    case K_ACCEPT: return aw_trust_accept_start(c->app, c->actor_id, c->s1, c->j, core_done, c);
    case K_APPROVE: return aw_trust_modify_start(c->app, c->actor_id, NULL, c->s1, c->j, core_done, c);
    case K_DELETE: return aw_trust_delete_start(c->app, c->actor_id, NULL, c->s1, c->flag != 0, core_done, c);
    }
    return AW_EINVAL;
}

/* On the loop: wrap the core operation in a custom op. Returns the start status (then nothing calls
 * back) or AW_OK with *op_out (when non-NULL) holding the caller's reference. */
static int launch_here(api_call *c, aw_op **op_out)
{
    c->op = aw_op_custom_new(c->app, c->cb, c->ud, on_cancel, c);
    if (!c->op) {
        call_free(c);
        return AW_ESHUTDOWN;
    }
    aw_op *op = c->op;
    int r = start_core(c);
    if (r != AW_OK) {
        /* Started nothing: the op must not call back (op.h rule 1). */
        op->cb = NULL;
        c->op = NULL;
        call_free(c);
        aw_op_custom_complete(op, aw_result_new(r), false);
        return r;
    }
    if (c->deadline_ms) {
        c->deadline.fire = on_deadline;
        aw_peer_timer_start(aw_peer_eng(c->app), &c->deadline, c->deadline_ms);
    }
    if (op_out) {
        atomic_fetch_add(&op->refs, 1);
        *op_out = op;
    }
    return AW_OK;
}

/* A start from another thread, now on the loop: every outcome goes through the callback. */
static void launch_posted(aw_app *app, void *ud)
{
    api_call *c = ud;
    aw_done_cb cb = c->cb;
    void *cud = c->ud;
    int r = launch_here(c, NULL);
    if (r == AW_OK) return;
    aw_result *res = aw_result_new(r);
    if (res) aw_result_setmsg(res, "trust operation: %s", aw_strerror(r));
    cb(res, cud);
    aw_result_unref(res);
}

static int launch(api_call *c, aw_op **op_out)
{
    if (op_out) *op_out = NULL;
    if (!c) return AW_ENOMEM;
    if (!c->cb || !c->actor_id) {
        call_free(c);
        return AW_EINVAL;
    }
    if (aw_app_on_loop_thread(c->app)) return launch_here(c, op_out);
    /* Another thread: hand the start to the loop. No op handle in this case (cancel is loop-only). */
    int r = aw_app_post(c->app, launch_posted, c);
    if (r != AW_OK) call_free(c);
    return r;
}

static api_call *call_new(aw_app *app, api_kind kind, const char *actor_id, const aw_call_opts *opts,
                          aw_done_cb cb, void *ud)
{
    if (!app) return NULL;
    api_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->app = app;
    c->kind = kind;
    c->actor_id = actor_id ? strdup(actor_id) : NULL;
    c->cb = cb;
    c->ud = ud;
    c->deadline_ms = opts ? opts->deadline_ms : 0;
    return c;
}

static bool dup_ok(const char *src, char **dst)
{
    if (!src) return true;
    return (*dst = strdup(src)) != NULL;
}

int aw_trust_create_reciprocal_async(aw_app *app, const char *actor_id, const char *peer_url,
                                     const char *relationship, const char *desc, const aw_call_opts *opts,
                                     aw_done_cb cb, void *ud, aw_op **op_out)
{
    if (!peer_url) return AW_EINVAL;
    api_call *c = call_new(app, K_CREATE, actor_id, opts, cb, ud);
    if (c && !(dup_ok(peer_url, &c->s1) && dup_ok(relationship, &c->s2) && dup_ok(desc, &c->s3))) {
        call_free(c);
        return AW_ENOMEM;
    }
    return launch(c, op_out);
}

int aw_trust_accept_verified_async(aw_app *app, const char *actor_id, const char *relationship,
                                   json_t *request, const aw_call_opts *opts, aw_done_cb cb, void *ud,
                                   aw_op **op_out)
{
    if (!relationship || !json_is_object(request)) return AW_EINVAL;
    api_call *c = call_new(app, K_ACCEPT, actor_id, opts, cb, ud);
    if (c && !dup_ok(relationship, &c->s1)) {
        call_free(c);
        return AW_ENOMEM;
    }
    if (c) c->j = json_deep_copy(request);
    return launch(c, op_out);
}

int aw_trust_approve_async(aw_app *app, const char *actor_id, const char *peerid, json_t *changes,
                           const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    if (!peerid || (changes && !json_is_object(changes))) return AW_EINVAL;
    api_call *c = call_new(app, K_APPROVE, actor_id, opts, cb, ud);
    if (c && !dup_ok(peerid, &c->s1)) {
        call_free(c);
        return AW_ENOMEM;
    }
    if (c) {
        c->j = changes ? json_deep_copy(changes) : json_object();
        if (c->j && !json_object_get(c->j, "approved")) json_object_set_new(c->j, "approved", json_true());
    }
    return launch(c, op_out);
}

int aw_trust_delete_async(aw_app *app, const char *actor_id, const char *peerid, int notify_peer,
                          const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    if (!peerid) return AW_EINVAL;
    api_call *c = call_new(app, K_DELETE, actor_id, opts, cb, ud);
    if (c && !dup_ok(peerid, &c->s1)) {
        call_free(c);
        return AW_ENOMEM;
    }
    if (c) c->flag = notify_peer;
    return launch(c, op_out);
}

/* ------------------------------------------------------------------ sync forms */

typedef struct sync_args {
    const char *actor_id, *a, *b, *c;
    json_t *j;
    int flag;
    const aw_call_opts *opts;
} sync_args;

static int s_create(aw_app *app, void *ctx, aw_done_cb cb, void *ud)
{
    sync_args *a = ctx;
    return aw_trust_create_reciprocal_async(app, a->actor_id, a->a, a->b, a->c, a->opts, cb, ud, NULL);
}
static int s_accept(aw_app *app, void *ctx, aw_done_cb cb, void *ud)
{
    sync_args *a = ctx;
    return aw_trust_accept_verified_async(app, a->actor_id, a->a, a->j, a->opts, cb, ud, NULL);
}
static int s_approve(aw_app *app, void *ctx, aw_done_cb cb, void *ud)
{
    sync_args *a = ctx;
    return aw_trust_approve_async(app, a->actor_id, a->a, a->j, a->opts, cb, ud, NULL);
}
static int s_delete(aw_app *app, void *ctx, aw_done_cb cb, void *ud)
{
    sync_args *a = ctx;
    return aw_trust_delete_async(app, a->actor_id, a->a, a->flag, a->opts, cb, ud, NULL);
}

static int sync_out(aw_app *app, int (*start)(aw_app *, void *, aw_done_cb, void *), sync_args *a, aw_result **out,
                    const char *what)
{
    aw_result *res = NULL;
    int r = aw_sync_call(app, start, a, &res, what);
    if (out) *out = res;
    else aw_result_unref(res);
    return r;
}

int aw_trust_create_reciprocal(aw_app *app, const char *actor_id, const char *peer_url,
                               const char *relationship, const char *desc, const aw_call_opts *opts,
                               aw_result **out)
{
    sync_args a = {actor_id, peer_url, relationship, desc, NULL, 0, opts};
    return sync_out(app, s_create, &a, out, "aw_trust_create_reciprocal");
}

int aw_trust_accept_verified(aw_app *app, const char *actor_id, const char *relationship, json_t *request,
                             const aw_call_opts *opts, aw_result **out)
{
    sync_args a = {actor_id, relationship, NULL, NULL, request, 0, opts};
    return sync_out(app, s_accept, &a, out, "aw_trust_accept_verified");
}

int aw_trust_approve(aw_app *app, const char *actor_id, const char *peerid, json_t *changes,
                     const aw_call_opts *opts, aw_result **out)
{
    sync_args a = {actor_id, peerid, NULL, NULL, changes, 0, opts};
    return sync_out(app, s_approve, &a, out, "aw_trust_approve");
}

int aw_trust_delete(aw_app *app, const char *actor_id, const char *peerid, int notify_peer,
                    const aw_call_opts *opts, aw_result **out)
{
    sync_args a = {actor_id, peerid, NULL, NULL, NULL, notify_peer, opts};
    return sync_out(app, s_delete, &a, out, "aw_trust_delete");
}

/* ------------------------------------------------------------------ local */

int aw_trust_get(aw_app *app, const char *actor_id, const char *peerid, json_t **out)
{
    if (!app || !actor_id || !peerid || !out) return AW_EINVAL;
    aw_trust_rec t;
    int r = aw_app_store(app)->trusts->get(aw_app_store(app), actor_id, peerid, &t);
    if (r != AW_OK) return r;
    *out = aw_trust_rec_json(&t);
    aw_trust_rec_free(&t);
    return *out ? AW_OK : AW_ENOMEM;
}

int aw_trust_list(aw_app *app, const char *actor_id, const aw_trust_list_filter *f, json_t **out)
{
    if (!app || !actor_id || !out) return AW_EINVAL;
    aw_trust_filter sf = {f ? f->relationship : NULL, f ? f->peerid : NULL, f ? f->type : NULL};
    return aw_trust_list_json(app, actor_id, &sf, out);
}
