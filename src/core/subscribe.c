/* Outbound subscription operations. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actingweb/peer.h>

#include "core/hooks.h"
#include "core/remote_store.h"
#include "core/subscribe.h"
#include "core/subscriber.h"
#include "util/json.h"
#include "util/str.h"

typedef struct sub_op {
    aw_app *app;
    char actor[64];
    char peer[72];
    char subid[64];
    char *target, *subtarget, *resource, *granularity;
    bool baseline;
    aw_sub_done cb;
    void *ud;
    json_t *payload;
    int http_status;
    aw_remote_state remote;
    int pending;            /* sync of several mirrors: how many still running */
    int status;             /* first failure among them */
} sub_op;

static void op_free(sub_op *o)
{
    free(o->target);
    free(o->subtarget);
    free(o->resource);
    free(o->granularity);
    json_decref(o->payload);
    free(o);
}

static sub_op *op_new(aw_app *app, const char *actor, const char *peer, const char *subid, aw_sub_done cb, void *ud)
{
    sub_op *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->app = app;
    aw_strlcpy(o->actor, actor, sizeof o->actor);
    aw_strlcpy(o->peer, peer ? peer : "", sizeof o->peer);
    aw_strlcpy(o->subid, subid ? subid : "", sizeof o->subid);
    o->cb = cb;
    o->ud = ud;
    return o;
}

/* One bearer request to the peer of trust `t` at baseuri + printf-formatted path; cb(res, o) once when
 * the start succeeds. Frees `o` when it fails. */
static int send_to_peer(sub_op *o, const aw_trust_rec *t, const char *method, json_t *body, aw_idempotency idem,
                        aw_done_cb cb, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int send_to_peer(sub_op *o, const aw_trust_rec *t, const char *method, json_t *body, aw_idempotency idem,
                        aw_done_cb cb, const char *fmt, ...)
{
    aw_buf b = AW_BUF_INIT;
    aw_buf_puts(&b, t->baseuri);
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    aw_buf_puts(&b, path);
    char *url = aw_buf_take(&b);
    aw_peer_request pr = {.method = method, .url = url, .bearer = t->secret, .json = body, .idempotency = idem};
    int r = url ? aw_peer_request_async(o->app, &pr, NULL, cb, o, NULL) : AW_ENOMEM;
    free(url);
    if (r != AW_OK) op_free(o);
    return r;
}

static void finish(sub_op *o, int status, const char *msg)
{
    aw_sub_outcome out = {status, o->http_status, o->remote, o->payload, msg ? msg : aw_strerror(status)};
    o->cb(&out, o->ud);
    op_free(o);
}

static int trust_of(aw_app *app, const char *actor, const char *peer, aw_trust_rec *t)
{
    int r = aw_app_store(app)->trusts->get(aw_app_store(app), actor, peer, t);
    if (r == AW_ENOTFOUND) return AW_ENOTRUST;
    if (r == AW_OK && (!*t->secret || !t->approved)) {
        aw_trust_rec_free(t);
        return AW_ENOTRUST;
    }
    return r;
}

/* ------------------------------------------------------------------ subscribe */

static void on_baseline(void *ud, int status, int applied)
{
    sub_op *o = ud;
    /* The subscription exists either way; a failed baseline is repaired by the next pull sync. */
    if (status != AW_OK) {
        AW_WARN(&o->app->log, "subscribe: baseline of %s failed (%s); a pull sync will repair it", o->subid,
                aw_strerror(status));
        aw_app_store(o->app)->subs->set_state(aw_app_store(o->app), o->actor, o->subid, -1, -1, 1);
    }
    finish(o, AW_OK, NULL);
}

static void on_created(const aw_result *res, void *ud)
{
    sub_op *o = ud;
    aw_app *app = o->app;
    o->http_status = aw_result_http_status(res);
    o->remote = aw_result_remote_state(res);
    int st = aw_result_status(res);
    if (st == AW_OK && o->http_status != 201) st = AW_EPEER;
    if (st != AW_OK) {
        finish(o, st, aw_result_message(res));
        return;
    }
    json_t *body = aw_result_json(res);
    const char *subid = aw_json_str(body, "subscriptionid");
    const char *loc = aw_result_location(res);
    if (!subid && loc) {
        const char *slash = strrchr(loc, '/');
        subid = slash ? slash + 1 : NULL;
    }
    if (!subid || !*subid || strlen(subid) >= sizeof o->subid) {
        finish(o, AW_EPROTO, "the peer's answer has no subscription id");
        return;
    }
    aw_strlcpy(o->subid, subid, sizeof o->subid);
    json_int_t pub_seq = json_integer_value(json_object_get(body, "sequence"));
    aw_sub_rec rec = {.actor = o->actor,
                      .subid = o->subid,
                      .peerid = o->peer,
                      .target = o->target,
                      .subtarget = o->subtarget,
                      .resource = o->resource,
                      .granularity = o->granularity,
                      .callback = true,
                      .sequence = 0};
    int r = aw_app_store(app)->subs->create(aw_app_store(app), &rec);
    if (r != AW_OK) {
        finish(o, r, "could not store the subscription");
        return;
    }
    aw_trust_rec t;
    char *url = NULL;
    if (aw_app_store(app)->trusts->get(aw_app_store(app), o->actor, o->peer, &t) == AW_OK) {
        aw_buf b = AW_BUF_INIT;
        aw_buf_printf(&b, "%s/subscriptions/%s/%s", t.baseuri, o->actor, o->subid);
        url = aw_buf_take(&b);
        aw_trust_rec_free(&t);
    }
    o->payload = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "subscriptionid", o->subid, "url", url ? url : "",
                           "peerid", o->peer, "target", o->target, "subtarget", o->subtarget, "resource", o->resource,
                           "granularity", o->granularity, "sequence", (json_int_t)pub_seq);
    free(url);
    if (o->baseline) aw_subscriber_baseline(app, o->actor, o->subid, pub_seq, on_baseline, o);
    else finish(o, AW_OK, NULL);
}

static char *dup0(const char *s) { return strdup(s ? s : ""); }

int aw_subscribe_start(aw_app *app, const char *actor, const char *peer, const char *target, const char *subtarget,
                       const char *resource, const char *granularity, bool baseline, aw_sub_done cb, void *ud)
{
    if (!actor || !peer || !target || !*target || !cb || strlen(actor) >= 64 || strlen(peer) >= 72) return AW_EINVAL;
    if (!granularity || !*granularity) granularity = "high";
    if (strcmp(granularity, "high") && strcmp(granularity, "low") && strcmp(granularity, "none")) return AW_EINVAL;
    aw_trust_rec t;
    int r = trust_of(app, actor, peer, &t);
    if (r != AW_OK) return r;
    sub_op *o = op_new(app, actor, peer, NULL, cb, ud);
    if (!o) {
        aw_trust_rec_free(&t);
        return AW_ENOMEM;
    }
    o->target = dup0(target);
    o->subtarget = dup0(subtarget);
    o->resource = dup0(resource);
    o->granularity = dup0(granularity);
    o->baseline = baseline;
    /* accept_encoding: our /callbacks take gzip and deflate bodies (protocol.md §9.11). */
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[ss]}", "id", actor, "target", o->target, "subtarget",
                             o->subtarget, "resource", o->resource, "granularity", o->granularity, "accept_encoding",
                             "gzip", "deflate");
    if (!body) {
        op_free(o);
        r = AW_ENOMEM;
    } else {
        r = send_to_peer(o, &t, "POST", body, AW_IDEMP_NEVER, on_created, "/subscriptions/%s", actor);
    }
    json_decref(body);
    aw_trust_rec_free(&t);
    return r;
}

/* ------------------------------------------------------------------ unsubscribe */

static void on_deleted_remote(const aw_result *res, void *ud)
{
    sub_op *o = ud;
    o->http_status = aw_result_http_status(res);
    o->remote = aw_result_remote_state(res);
    int st = aw_result_status(res);
    if (st == AW_EPEER && o->http_status == 404) st = AW_OK; /* already gone there */
    if (st != AW_OK) {
        finish(o, st, aw_result_message(res));
        return;
    }
    int r = aw_app_store(o->app)->subs->del(aw_app_store(o->app), o->actor, o->subid);
    if (r == AW_OK || r == AW_ENOTFOUND) r = aw_subscriber_forget_publisher_if_unused(o->app, o->actor, o->peer);
    finish(o, r, NULL);
}

int aw_unsubscribe_start(aw_app *app, const char *actor, const char *peer, const char *subid, aw_sub_done cb, void *ud)
{
    if (!actor || !peer || !subid || !cb || strlen(actor) >= 64 || strlen(peer) >= 72 || strlen(subid) >= 64)
        return AW_EINVAL;
    aw_sub_rec sub;
    int r = aw_app_store(app)->subs->get(aw_app_store(app), actor, subid, &sub);
    if (r != AW_OK) return r;
    bool ok = sub.callback && !strcmp(sub.peerid, peer);
    aw_sub_rec_free(&sub);
    if (!ok) return AW_ENOTFOUND;
    aw_trust_rec t;
    r = aw_app_store(app)->trusts->get(aw_app_store(app), actor, peer, &t);
    if (r == AW_ENOTFOUND) {
        /* No trust left: nothing to tell, just forget it locally. */
        r = aw_app_store(app)->subs->del(aw_app_store(app), actor, subid);
        if (r == AW_OK) r = aw_subscriber_forget_publisher_if_unused(app, actor, peer);
        return r == AW_OK ? AW_ENOTRUST : r;
    }
    if (r != AW_OK) return r;
    sub_op *o = op_new(app, actor, peer, subid, cb, ud);
    r = o ? send_to_peer(o, &t, "DELETE", NULL, AW_IDEMP_DEFAULT, on_deleted_remote, "/subscriptions/%s/%s", actor,
                         subid)
          : AW_ENOMEM;
    aw_trust_rec_free(&t);
    return r;
}

/* ------------------------------------------------------------------ end (either direction) */

static void on_end_notified(const aw_result *res, void *ud)
{
    sub_op *o = ud;
    o->http_status = aw_result_http_status(res);
    o->remote = aw_result_remote_state(res);
    int st = aw_result_status(res);
    if (st == AW_EPEER && o->http_status == 404) st = AW_OK;
    if (st != AW_OK)
        AW_WARN(&o->app->log, "subscription %s: peer %s was not told of its end (%s)", o->subid, o->peer,
                aw_strerror(st));
    aw_sub_rec rec;
    bool got = aw_app_store(o->app)->subs->get(aw_app_store(o->app), o->actor, o->subid, &rec) == AW_OK;
    bool inbound = got && !rec.callback;
    int r = aw_app_store(o->app)->subs->del(aw_app_store(o->app), o->actor, o->subid);
    if (r == AW_OK && inbound) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", rec.actor, "peerid", rec.peerid,
                              "subscriptionid", rec.subid, "target", rec.target, "subtarget", rec.subtarget,
                              "resource", rec.resource, "granularity", rec.granularity);
        aw_hooks_fire_lifecycle(o->app, AW_EV_SUBSCRIPTION_DELETED, AW_ORIGIN_SDK, o->actor, o->peer, NULL, o->subid, j,
                                false);
        json_decref(j);
    }
    if (got) aw_sub_rec_free(&rec);
    if (r == AW_OK || r == AW_ENOTFOUND) r = aw_subscriber_forget_publisher_if_unused(o->app, o->actor, o->peer);
    finish(o, r, st == AW_OK ? NULL : aw_result_message(res));
}

int aw_sub_end_start(aw_app *app, const char *actor, const char *peer, const char *subid, aw_sub_done cb, void *ud)
{
    if (!actor || !peer || !subid || !cb || strlen(actor) >= 64 || strlen(peer) >= 72 || strlen(subid) >= 64)
        return AW_EINVAL;
    aw_sub_rec sub;
    int r = aw_app_store(app)->subs->get(aw_app_store(app), actor, subid, &sub);
    if (r != AW_OK) return r;
    bool ok = !strcmp(sub.peerid, peer), mirror = sub.callback;
    aw_sub_rec_free(&sub);
    if (!ok) return AW_ENOTFOUND;
    aw_trust_rec t;
    r = aw_app_store(app)->trusts->get(aw_app_store(app), actor, peer, &t);
    if (r != AW_OK) {
        if (r != AW_ENOTFOUND) return r;
        r = aw_app_store(app)->subs->del(aw_app_store(app), actor, subid);
        if (r == AW_OK) r = aw_subscriber_forget_publisher_if_unused(app, actor, peer);
        return r == AW_OK ? AW_ENOTRUST : r;
    }
    sub_op *o = op_new(app, actor, peer, subid, cb, ud);
    r = o ? send_to_peer(o, &t, "DELETE", NULL, AW_IDEMP_DEFAULT, on_end_notified,
                         mirror ? "/subscriptions/%s/%s" : "/callbacks/subscriptions/%s/%s", actor, subid)
          : AW_ENOMEM;
    aw_trust_rec_free(&t);
    return r;
}

/* ------------------------------------------------------------------ pull sync */

static void on_one_synced(void *ud, int status, int applied)
{
    sub_op *o = ud;
    if (status != AW_OK && status != AW_EALREADY && o->status == AW_OK) o->status = status;
    if (--o->pending == 0) finish(o, o->status, NULL);
}

typedef struct sync_collect {
    sub_op *o;
    int n;
} sync_collect;

static int start_one_sync(const aw_sub_rec *r, void *ud)
{
    sync_collect *c = ud;
    c->o->pending++;
    c->n++;
    aw_subscriber_sync(c->o->app, r->actor, r->subid, on_one_synced, c->o);
    return AW_OK;
}

int aw_subsync_start(aw_app *app, const char *actor, const char *peer, const char *subid, aw_sub_done cb, void *ud)
{
    if (!actor || !cb || strlen(actor) >= 64) return AW_EINVAL;
    sub_op *o = op_new(app, actor, peer, subid, cb, ud);
    if (!o) return AW_ENOMEM;
    o->pending = 1; /* held until every sync is started */
    sync_collect c = {o, 0};
    int r;
    if (subid) {
        aw_sub_rec sub;
        r = aw_app_store(app)->subs->get(aw_app_store(app), actor, subid, &sub);
        if (r == AW_OK) {
            if (sub.callback && (!peer || !strcmp(sub.peerid, peer))) start_one_sync(&sub, &c);
            else r = AW_ENOTFOUND;
            aw_sub_rec_free(&sub);
        }
    } else {
        aw_sub_filter f = {.peerid = peer, .callback = 1};
        r = aw_app_store(app)->subs->each(aw_app_store(app), actor, &f, start_one_sync, &c);
    }
    if (r != AW_OK && c.n == 0) {
        op_free(o);
        return r;
    }
    if (r != AW_OK) o->status = r;
    on_one_synced(o, AW_OK, 0); /* drop the hold; completes now if nothing was started */
    return AW_OK;
}
