/* The public subscription API (include/actingweb/subscriptions.h) over core/subscribe.c, the subscriber
 * and the delivery module. Each async form wraps one core operation in a custom aw_op (cancellable,
 * counted by the engine so shutdown completes it, bounded by opts->deadline_ms); each sync form is
 * aw_sync_call() over the async start. */
#include <stdlib.h>
#include <string.h>

#include <actingweb/subscriptions.h>

#include "core/changes.h"
#include "core/diff.h"
#include "core/remote_store.h"
#include "core/subscribe.h"
#include "peer/delivery.h"
#include "peer/internal.h"
#include "util/json.h"
#include "util/time.h"

typedef enum { K_SUBSCRIBE, K_CREATE_REMOTE, K_UNSUBSCRIBE, K_DELETE_REMOTE, K_SYNC, K_CALLBACK } sub_kind;

typedef struct api_call {
    aw_tnode tn;          /* deadline; first member (container of the timer node) */
    aw_app *app;
    sub_kind kind;
    char *actor, *peer, *subid;
    char *target, *subtarget, *resource, *granularity;
    long long seq;
    uint32_t deadline_ms;
    aw_done_cb cb;
    void *ud;
    aw_op *op;            /* until completed */
    bool done;            /* op completed (cancel, deadline or outcome) */
    bool core_running;    /* the core operation has not reported yet */
} api_call;

static void call_free(api_call *c)
{
    free(c->actor);
    free(c->peer);
    free(c->subid);
    free(c->target);
    free(c->subtarget);
    free(c->resource);
    free(c->granularity);
    free(c);
}

static void maybe_free(api_call *c)
{
    if (c->done && !c->core_running) call_free(c);
}

static void complete(api_call *c, aw_result *r, bool defer)
{
    if (c->done) {
        aw_result_unref(r);
        return;
    }
    c->done = true;
    if (c->deadline_ms) aw_peer_timer_stop(aw_peer_eng(c->app), &c->tn);
    aw_op *op = c->op;
    c->op = NULL;
    aw_op_custom_complete(op, r, defer);
}

static void on_outcome(const aw_sub_outcome *o, void *ud)
{
    api_call *c = ud;
    c->core_running = false;
    if (!c->done) {
        aw_result *r = aw_result_new(o->status);
        if (r) {
            r->http_status = o->http_status;
            r->remote_state = o->remote;
            r->payload = o->payload ? json_incref(o->payload) : NULL;
            aw_result_setmsg(r, "%s", o->message);
        }
        complete(c, r, true); /* the core may report inside its start: always defer */
    }
    maybe_free(c);
}

static void on_peer_result(const aw_result *res, void *ud)
{
    api_call *c = ud;
    c->core_running = false;
    if (!c->done) {
        aw_result *r = aw_result_new(aw_result_status(res));
        if (r) {
            r->http_status = aw_result_http_status(res);
            r->remote_state = aw_result_remote_state(res);
            json_t *j = aw_result_json(res);
            r->payload = j ? json_incref(j) : NULL;
            aw_result_setmsg(r, "%s", aw_result_message(res));
        }
        complete(c, r, false);
    }
    maybe_free(c);
}

static void on_cancel(aw_op *op, int status, void *cud)
{
    api_call *c = cud;
    if (c->done) return;
    c->done = true;
    c->op = NULL;
    if (c->deadline_ms) aw_peer_timer_stop(aw_peer_eng(c->app), &c->tn);
    aw_op_custom_complete(op, aw_result_new(status), true);
    maybe_free(c);
}

static void on_deadline(aw_tnode *n)
{
    api_call *c = (api_call *)n;
    if (c->done) return;
    aw_result *r = aw_result_new(AW_ETIMEDOUT);
    if (r) aw_result_setmsg(r, "operation deadline of %u ms passed", c->deadline_ms);
    c->deadline_ms = 0; /* the timer fired: nothing to stop */
    complete(c, r, false);
    maybe_free(c);
}

static int start_core(api_call *c)
{
    switch (c->kind) {
    case K_SUBSCRIBE:
    case K_CREATE_REMOTE:
        return aw_subscribe_start(c->app, c->actor, c->peer, c->target, c->subtarget, c->resource, c->granularity,
                                  c->kind == K_SUBSCRIBE, on_outcome, c);
    case K_UNSUBSCRIBE: return aw_unsubscribe_start(c->app, c->actor, c->peer, c->subid, on_outcome, c);
    case K_DELETE_REMOTE: return aw_sub_end_start(c->app, c->actor, c->peer, c->subid, on_outcome, c);
    case K_SYNC: return aw_subsync_start(c->app, c->actor, c->peer, c->subid, on_outcome, c);
    case K_CALLBACK: return aw_delivery_send_now(c->app, c->actor, c->subid, c->seq, on_peer_result, c);
    }
    return AW_EINVAL;
}

/* On the loop: create the op and start the core operation. A start failure completes the op through
 * its callback when `from_post` (the caller already got AW_OK), else is returned. */
static int launch_on_loop(api_call *c, bool from_post, aw_op **op_out)
{
    c->op = aw_op_custom_new(c->app, c->cb, c->ud, on_cancel, c);
    if (!c->op) {
        if (from_post) { /* the engine stopped between the post and now: still call back exactly once */
            aw_result *r = aw_result_new(AW_ESHUTDOWN);
            if (r) {
                c->cb(r, c->ud);
                aw_result_unref(r);
            }
        }
        call_free(c);
        return AW_ESHUTDOWN;
    }
    aw_op *op = c->op;
    if (c->deadline_ms) {
        c->tn.fire = on_deadline;
        aw_peer_timer_start(aw_peer_eng(c->app), &c->tn, c->deadline_ms);
    }
    c->core_running = true;
    int r = start_core(c);
    if (r != AW_OK) {
        c->core_running = false;
        if (!from_post) {
            op->cb = NULL; /* op.h rule 1: a failed start never calls back */
            complete(c, aw_result_new(r), false);
            maybe_free(c);
            return r;
        }
        aw_result *res = aw_result_new(r);
        if (res) aw_result_setmsg(res, "%s", aw_strerror(r));
        complete(c, res, false);
        maybe_free(c);
        return AW_OK;
    }
    if (op_out) {
        atomic_fetch_add(&op->refs, 1);
        *op_out = op;
    }
    return AW_OK;
}

static void posted(aw_app *app, void *ud) { launch_on_loop(ud, true, NULL); }

static int launch(api_call *c, const aw_call_opts *opts, aw_op **op_out)
{
    if (op_out) *op_out = NULL;
    if (!c) return AW_ENOMEM;
    if (!c->cb || !c->actor) {
        call_free(c);
        return AW_EINVAL;
    }
    c->deadline_ms = opts && opts->deadline_ms ? opts->deadline_ms : 0;
    if (aw_app_on_loop_thread(c->app)) return launch_on_loop(c, false, op_out);
    int r = aw_app_post(c->app, posted, c);
    if (r != AW_OK) call_free(c);
    return r;
}

static char *dupn(const char *s) { return s && *s ? strdup(s) : NULL; }

static api_call *call_new(aw_app *app, sub_kind kind, const char *actor, const char *peer, const char *subid,
                          aw_done_cb cb, void *ud)
{
    if (!app || !actor) return NULL;
    api_call *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->app = app;
    c->kind = kind;
    c->actor = strdup(actor);
    c->peer = dupn(peer);
    c->subid = dupn(subid);
    c->cb = cb;
    c->ud = ud;
    return c;
}

static bool scope_ok(const aw_sub_scope *s)
{
    if (!s || !s->target || !*s->target) return false;
    if (s->resource && *s->resource && !(s->subtarget && *s->subtarget)) return false;
    const char *g = s->granularity;
    return !g || !*g || !strcmp(g, "high") || !strcmp(g, "low") || !strcmp(g, "none");
}

static int subscribe_common(aw_app *app, sub_kind kind, const char *actor_id, const char *peer_id,
                            const aw_sub_scope *scope, const aw_call_opts *opts, aw_done_cb cb, void *ud,
                            aw_op **op_out)
{
    if (op_out) *op_out = NULL;
    if (!app || !actor_id || !peer_id || !scope_ok(scope)) return AW_EINVAL;
    api_call *c = call_new(app, kind, actor_id, peer_id, NULL, cb, ud);
    if (c) {
        c->target = strdup(scope->target);
        c->subtarget = dupn(scope->subtarget);
        c->resource = dupn(scope->resource);
        c->granularity = dupn(scope->granularity);
    }
    return launch(c, opts, op_out);
}

int aw_sub_subscribe_async(aw_app *app, const char *actor_id, const char *peer_id, const aw_sub_scope *scope,
                           const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    return subscribe_common(app, K_SUBSCRIBE, actor_id, peer_id, scope, opts, cb, ud, op_out);
}

int aw_sub_create_remote_async(aw_app *app, const char *actor_id, const char *peer_id, const aw_sub_scope *scope,
                               const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    return subscribe_common(app, K_CREATE_REMOTE, actor_id, peer_id, scope, opts, cb, ud, op_out);
}

static int by_id_common(aw_app *app, sub_kind kind, const char *actor_id, const char *peer_id, const char *subid,
                        const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    if (op_out) *op_out = NULL;
    if (!app || !actor_id || (kind != K_SYNC && (!peer_id || !subid))) return AW_EINVAL;
    if (kind == K_SYNC && !peer_id && !subid) return AW_EINVAL;
    return launch(call_new(app, kind, actor_id, peer_id, subid, cb, ud), opts, op_out);
}

int aw_sub_unsubscribe_async(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                             const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    return by_id_common(app, K_UNSUBSCRIBE, actor_id, peer_id, subid, opts, cb, ud, op_out);
}

int aw_sub_delete_remote_async(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                               const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    return by_id_common(app, K_DELETE_REMOTE, actor_id, peer_id, subid, opts, cb, ud, op_out);
}

int aw_sub_sync_async(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                      const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    return by_id_common(app, K_SYNC, actor_id, peer_id, subid, opts, cb, ud, op_out);
}

int aw_sub_callback_async(aw_app *app, const char *actor_id, const char *subid, long long seq,
                          const aw_call_opts *opts, aw_done_cb cb, void *ud, aw_op **op_out)
{
    if (op_out) *op_out = NULL;
    if (!app || !actor_id || !subid || seq < 0) return AW_EINVAL;
    api_call *c = call_new(app, K_CALLBACK, actor_id, NULL, subid, cb, ud);
    if (c) c->seq = seq;
    return launch(c, opts, op_out);
}

/* ------------------------------------------------------------------ sync forms */

typedef struct sync_args {
    sub_kind kind;
    const char *actor, *peer, *subid;
    const aw_sub_scope *scope;
    long long seq;
    const aw_call_opts *opts;
} sync_args;

static int sync_start(aw_app *app, void *ctx, aw_done_cb cb, void *ud)
{
    sync_args *a = ctx;
    switch (a->kind) {
    case K_SUBSCRIBE: return aw_sub_subscribe_async(app, a->actor, a->peer, a->scope, a->opts, cb, ud, NULL);
    case K_CREATE_REMOTE: return aw_sub_create_remote_async(app, a->actor, a->peer, a->scope, a->opts, cb, ud, NULL);
    case K_UNSUBSCRIBE: return aw_sub_unsubscribe_async(app, a->actor, a->peer, a->subid, a->opts, cb, ud, NULL);
    case K_DELETE_REMOTE: return aw_sub_delete_remote_async(app, a->actor, a->peer, a->subid, a->opts, cb, ud, NULL);
    case K_SYNC: return aw_sub_sync_async(app, a->actor, a->peer, a->subid, a->opts, cb, ud, NULL);
    case K_CALLBACK: return aw_sub_callback_async(app, a->actor, a->subid, a->seq, a->opts, cb, ud, NULL);
    }
    return AW_EINVAL;
}

static int sync_call(aw_app *app, sync_args *a, aw_result **out, const char *what)
{
    aw_result *res = NULL;
    int r = aw_sync_call(app, sync_start, a, &res, what);
    if (out) *out = res;
    else aw_result_unref(res);
    return r;
}

int aw_sub_subscribe(aw_app *app, const char *actor_id, const char *peer_id, const aw_sub_scope *scope,
                     const aw_call_opts *opts, aw_result **out)
{
    sync_args a = {K_SUBSCRIBE, actor_id, peer_id, NULL, scope, 0, opts};
    return sync_call(app, &a, out, "aw_sub_subscribe");
}

int aw_sub_create_remote(aw_app *app, const char *actor_id, const char *peer_id, const aw_sub_scope *scope,
                         const aw_call_opts *opts, aw_result **out)
{
    sync_args a = {K_CREATE_REMOTE, actor_id, peer_id, NULL, scope, 0, opts};
    return sync_call(app, &a, out, "aw_sub_create_remote");
}

int aw_sub_unsubscribe(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                       const aw_call_opts *opts, aw_result **out)
{
    sync_args a = {K_UNSUBSCRIBE, actor_id, peer_id, subid, NULL, 0, opts};
    return sync_call(app, &a, out, "aw_sub_unsubscribe");
}

int aw_sub_delete_remote(aw_app *app, const char *actor_id, const char *peer_id, const char *subid,
                         const aw_call_opts *opts, aw_result **out)
{
    sync_args a = {K_DELETE_REMOTE, actor_id, peer_id, subid, NULL, 0, opts};
    return sync_call(app, &a, out, "aw_sub_delete_remote");
}

int aw_sub_sync(aw_app *app, const char *actor_id, const char *peer_id, const char *subid, const aw_call_opts *opts,
                aw_result **out)
{
    sync_args a = {K_SYNC, actor_id, peer_id, subid, NULL, 0, opts};
    return sync_call(app, &a, out, "aw_sub_sync");
}

int aw_sub_callback(aw_app *app, const char *actor_id, const char *subid, long long seq, const aw_call_opts *opts,
                    aw_result **out)
{
    sync_args a = {K_CALLBACK, actor_id, NULL, subid, NULL, seq, opts};
    return sync_call(app, &a, out, "aw_sub_callback");
}

/* ------------------------------------------------------------------ local */

static json_t *sub_json(const aw_sub_rec *r)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:b}", "id", r->actor, "peerid", r->peerid, "subscriptionid",
                     r->subid, "target", r->target, "subtarget", r->subtarget, "resource", r->resource,
                     "granularity", r->granularity, "sequence", (json_int_t)r->sequence, "callback", r->callback);
}

static int collect(const aw_sub_rec *r, void *ud)
{
    json_array_append_new(ud, sub_json(r));
    return AW_OK;
}

int aw_sub_list(aw_app *app, const char *actor_id, const char *peer_id, const char *target, int direction,
                json_t **out)
{
    if (!app || !actor_id || !out) return AW_EINVAL;
    aw_sub_filter f = {.peerid = peer_id, .target = target, .callback = direction < 0 ? -1 : direction ? 1 : 0};
    *out = json_array();
    int r = aw_app_store(app)->subs->each(aw_app_store(app), actor_id, &f, collect, *out);
    if (r != AW_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return r;
}

int aw_sub_get(aw_app *app, const char *actor_id, const char *subid, json_t **out)
{
    if (!app || !actor_id || !subid || !out) return AW_EINVAL;
    aw_sub_rec rec;
    int r = aw_app_store(app)->subs->get(aw_app_store(app), actor_id, subid, &rec);
    if (r != AW_OK) return r;
    *out = sub_json(&rec);
    aw_sub_rec_free(&rec);
    return *out ? AW_OK : AW_ENOMEM;
}

static int in_txn(aw_app *app, int (*fn)(aw_app *app, void *ctx), void *ctx)
{
    aw_store *s = aw_app_store(app);
    int r = s->begin(s, true);
    if (r != AW_OK) return r;
    r = fn(app, ctx);
    if (r == AW_OK) return s->commit(s);
    s->rollback(s);
    return r;
}

typedef struct notify_args {
    const char *actor, *target, *subtarget, *resource;
    json_t *blob;
    size_t made;
} notify_args;

static int do_notify(aw_app *app, void *ctx)
{
    notify_args *a = ctx;
    return aw_changes_register_n(app, a->actor, a->target, a->subtarget, a->resource, a->blob, &a->made);
}

int aw_sub_notify(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                  const char *resource, json_t *blob, size_t *n_diffs)
{
    if (!app || !actor_id || !target || !*target || !blob) return AW_EINVAL;
    notify_args a = {actor_id, target, subtarget, resource, blob, 0};
    int r = in_txn(app, do_notify, &a);
    if (n_diffs) *n_diffs = r == AW_OK ? a.made : 0;
    return r;
}

int aw_sub_suspend(aw_app *app, const char *actor_id, const char *target, const char *subtarget)
{
    if (!app || !actor_id || !target || !*target) return AW_EINVAL;
    return aw_app_store(app)->subs->suspend(aw_app_store(app), actor_id, target, subtarget ? subtarget : "");
}

int aw_sub_is_suspended(aw_app *app, const char *actor_id, const char *target, const char *subtarget)
{
    if (!app || !actor_id || !target || !*target) return AW_EINVAL;
    return aw_app_store(app)->subs->is_suspended(aw_app_store(app), actor_id, target, subtarget ? subtarget : "");
}

typedef struct resume_args {
    const char *actor, *target, *subtarget;
    size_t queued;
    json_t *full; /* full state of the target, built on first need */
} resume_args;

typedef struct resume_ctx {
    aw_app *app;
    resume_args *a;
} resume_ctx;

static int resume_sub(const aw_sub_rec *sub, void *ud)
{
    resume_ctx *rc = ud;
    resume_args *a = rc->a;
    if (a->subtarget && *a->subtarget && *sub->subtarget && strcmp(sub->subtarget, a->subtarget) != 0) return AW_OK;
    bool queued = false;
    int r = aw_changes_queue_resync(rc->app, sub, &a->full, NULL, &queued);
    if (r == AW_OK && queued) a->queued++;
    return r;
}

static int do_resume(aw_app *app, void *ctx)
{
    resume_args *a = ctx;
    int r = aw_app_store(app)->subs->unsuspend(aw_app_store(app), a->actor, a->target, a->subtarget ? a->subtarget : "");
    if (r != AW_OK) return r;
    aw_sub_filter f = {.target = a->target, .callback = 0};
    resume_ctx rc = {app, a};
    return aw_app_store(app)->subs->each(aw_app_store(app), a->actor, &f, resume_sub, &rc);
}

int aw_sub_resume(aw_app *app, const char *actor_id, const char *target, const char *subtarget, size_t *queued)
{
    if (!app || !actor_id || !target || !*target) return AW_EINVAL;
    resume_args a = {actor_id, target, subtarget, 0, NULL};
    int r = in_txn(app, do_resume, &a);
    json_decref(a.full);
    if (queued) *queued = r == AW_OK ? a.queued : 0;
    if (r == AW_OK && a.queued) aw_delivery_kick(app);
    return r;
}

int aw_remote_get(aw_app *app, const char *actor_id, const char *peer_id, json_t **out)
{
    if (!app || !actor_id || !peer_id || !out) return AW_EINVAL;
    return aw_remote_read(app, actor_id, peer_id, out);
}
