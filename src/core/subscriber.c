/* Subscriber-side processing (sdk-api.md §5; protocol.md §9.9). Every step that changes state runs in
 * one storage transaction that re-reads the mirror's last applied sequence, so callbacks, pull syncs
 * and baselines interleave safely, also across shards sharing the database. */
#include <stdlib.h>
#include <string.h>

#include <actingweb/peer.h>

#include "core/hooks.h"
#include "core/mirror_backoff.h"
#include "core/remote_store.h"
#include "core/subscriber.h"
#include "store/group.h"
#include "util/json.h"
#include "util/str.h"
#include "util/time.h"

#define TICK_MS 1000
#define MAX_PENDING 100
/* Acknowledgements (PUT {"sequence": N} to the publisher, sdk-api.md §5.7): a mirror is acknowledged at most
 * every ACK_INTERVAL_MS; while callbacks keep arriving, only once they pause for ACK_QUIET_MS, or after
 * ACK_BUSY_MS in a stream that never pauses. An ack is housekeeping (the publisher drops the diffs it covers),
 * so it waits for the stream rather than competing with it: one ack then covers a whole burst, and during
 * one neither side spends a request on it. */
#define ACK_INTERVAL_MS 2000
#define ACK_QUIET_MS 500
#define ACK_BUSY_MS 10000

typedef struct busy_node {
    char key[100];
    struct busy_node *next;
} busy_node;

typedef struct aw_subscriber {
    aw_app *app;
    uv_timer_t tick;
    bool closing;
    unsigned ticks;
    uint64_t last_rx_ms;  /* monotonic time of the last callback received */
    uint64_t last_ack_ms; /* ... of the last round of acknowledgements */
    /* Where the next look for mirrors needing attention starts (each look takes at most 1000), and where
     * the backstop's walk over every mirror is; "" = at the first. */
    char att_actor[64], att_subid[64];
    bool backstop;        /* a backstop walk is under way */
    char bs_actor[64], bs_subid[64];
    busy_node *busy; /* mirrors with a sync/ack in flight (no second one is started) */
    aw_mirror_backoff *backoff; /* mirrors whose last request to their publisher failed */
    json_t *fires;   /* data-hook calls waiting for the current transaction to commit */
} aw_subscriber;

/* ------------------------------------------------------------------ helpers */

static bool busy_take(aw_app *app, const char *what, const char *actor, const char *subid)
{
    aw_subscriber *sb = app->subscriber;
    if (!sb) return true;
    char key[100];
    snprintf(key, sizeof key, "%s:%s:%s", what, actor, subid);
    for (busy_node *n = sb->busy; n; n = n->next)
        if (!strcmp(n->key, key)) return false;
    busy_node *n = calloc(1, sizeof *n);
    if (!n) return false;
    aw_strlcpy(n->key, key, sizeof n->key);
    n->next = sb->busy;
    sb->busy = n;
    return true;
}

static void busy_release(aw_app *app, const char *what, const char *actor, const char *subid)
{
    aw_subscriber *sb = app->subscriber;
    if (!sb) return;
    char key[100];
    snprintf(key, sizeof key, "%s:%s:%s", what, actor, subid);
    for (busy_node **pp = &sb->busy; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->key, key)) {
            busy_node *n = *pp;
            *pp = n->next;
            free(n);
            return;
        }
    }
}

/* A request of the timer to the mirror's publisher (pull sync or acknowledgement) ended. */
static void retry_note(aw_app *app, const char *actor, const char *subid, bool ok)
{
    if (app->subscriber) aw_mirror_backoff_note(app->subscriber->backoff, actor, subid, ok, aw_time_ms());
}

typedef struct tick_sync {
    aw_app *app;
    char actor[64], subid[64];
} tick_sync;

static void on_tick_synced(void *ud, int status, int applied)
{
    (void)applied;
    tick_sync *t = ud;
    /* AW_ENOTFOUND: the mirror is gone. AW_EALREADY: another sync of it was under way. */
    if (status != AW_EALREADY) retry_note(t->app, t->actor, t->subid, status == AW_OK || status == AW_ENOTFOUND);
    free(t);
}

static void tick_sync_start(aw_app *app, const char *actor, const char *subid)
{
    tick_sync *t = calloc(1, sizeof *t);
    if (!t) return;
    t->app = app;
    aw_strlcpy(t->actor, actor, sizeof t->actor);
    aw_strlcpy(t->subid, subid, sizeof t->subid);
    aw_subscriber_sync(app, actor, subid, on_tick_synced, t);
}

/* Data-hook notifications collected while a transaction applies data; fired once it commits. */
static void fire_list(aw_app *app, json_t *list, bool fire)
{
    size_t i;
    json_t *f;
    if (fire)
        json_array_foreach(list, i, f)
            aw_hooks_fire_sub_data(app, aw_json_str(f, "actor"), aw_json_str(f, "peer"), aw_json_str(f, "subid"),
                                   aw_json_str(f, "target"), aw_json_str(f, "subtarget"), aw_json_str(f, "resource"),
                                   json_object_get(f, "data"), json_integer_value(json_object_get(f, "seq")),
                                   aw_json_str(f, "kind"));
    json_decref(list);
}

typedef struct held_fires {
    aw_app *app;
    json_t *list;
} held_fires;

static void fire_held(void *ud, int commit_status)
{
    held_fires *h = ud;
    fire_list(h->app, h->list, commit_status == AW_OK);
    free(h);
}

static void fires_flush(aw_app *app, bool fire)
{
    aw_subscriber *sb = app->subscriber;
    if (!sb || !sb->fires) return;
    json_t *list = sb->fires;
    sb->fires = NULL;
    held_fires *h = fire && aw_group_active(app) ? malloc(sizeof *h) : NULL;
    if (h) { /* inside a group commit: the data is committed with the group, the hooks fire after it */
        h->app = app;
        h->list = list;
        aw_group_defer(app, fire_held, h);
        return;
    }
    if (fire && aw_group_active(app)) fire = aw_group_flush(app) == AW_OK; /* out of memory: commit first */
    fire_list(app, list, fire);
}

static int txn_end(aw_app *app, int r)
{
    if (r == AW_OK) r = aw_app_store(app)->commit(aw_app_store(app));
    else aw_app_store(app)->rollback(aw_app_store(app));
    fires_flush(app, r == AW_OK);
    return r;
}

/* Bearer request to the publisher of a mirror. `path` is appended to the trust's baseuri unless it is an
 * absolute URL. Returns a start status; cb runs once when AW_OK. */
static int peer_call(aw_app *app, const char *actor, const char *peer, const char *method, const char *path,
                     json_t *body, aw_done_cb cb, void *ud)
{
    aw_trust_rec t;
    int r = aw_app_store(app)->trusts->get(aw_app_store(app), actor, peer, &t);
    if (r != AW_OK) return r == AW_ENOTFOUND ? AW_ENOTRUST : r;
    aw_buf u = AW_BUF_INIT;
    if (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8)) {
        /* An absolute URL from a callback body gets our bearer secret only when it lies below the
         * publisher's own root: a callback must not make us hand the secret to another host. */
        size_t n = strlen(t.baseuri);
        if (strncmp(path, t.baseuri, n) != 0 || path[n] != '/') {
            aw_trust_rec_free(&t);
            return AW_EINVAL;
        }
        aw_buf_puts(&u, path);
    } else {
        aw_buf_printf(&u, "%s%s", t.baseuri, path);
    }
    char *url = aw_buf_take(&u);
    aw_peer_request pr = {.method = method, .url = url, .bearer = t.secret, .json = body};
    r = url ? aw_peer_request_async(app, &pr, NULL, cb, ud, NULL) : AW_ENOMEM;
    free(url);
    aw_trust_rec_free(&t);
    return r;
}

/* The scope path of a subscription below the publisher's root. */
static char *scope_path(const aw_sub_rec *s)
{
    aw_buf b = AW_BUF_INIT;
    aw_buf_printf(&b, "/%s", s->target);
    if (*s->subtarget) aw_buf_printf(&b, "/%s", s->subtarget);
    if (*s->resource) aw_buf_printf(&b, "/%s", s->resource);
    if (!*s->subtarget && !strcmp(s->target, "properties")) aw_buf_puts(&b, "?format=full");
    return aw_buf_take(&b);
}

static int apply(aw_app *app, const aw_sub_rec *sub, json_t *data, aw_apply_kind kind, int64_t seq)
{
    int r = aw_remote_apply(app, sub->actor, sub->peerid, sub->subtarget, sub->resource, data, kind);
    aw_subscriber *sb = app->subscriber;
    if (r == AW_OK && sb && data && aw_hooks_has_sub_data(app)) {
        if (!sb->fires) sb->fires = json_array();
        static const char *const kinds[] = {"diff", "resync", "baseline"};
        json_array_append_new(sb->fires,
                              json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:I,s:s}", "actor", sub->actor, "peer",
                                        sub->peerid, "subid", sub->subid, "target", sub->target, "subtarget",
                                        sub->subtarget, "resource", sub->resource, "data", data, "seq",
                                        (json_int_t)seq, "kind", kinds[kind]));
    }
    return r;
}

typedef struct pend_item {
    int64_t seq;
    json_t *body;
} pend_item;

typedef struct pend_list {
    pend_item *v;
    size_t n;
} pend_list;

static int collect_pending(int64_t seq, const char *body, int64_t received_ms, void *ud)
{
    pend_list *l = ud;
    pend_item *p = realloc(l->v, (l->n + 1) * sizeof *p);
    if (!p) return AW_ENOMEM;
    l->v = p;
    l->v[l->n].seq = seq;
    l->v[l->n].body = json_loads(body, 0, NULL);
    l->n++;
    return AW_OK;
}

/* Apply queued callbacks that continue the sequence (high granularity only; a low entry needs a fetch
 * and is left to the gap timer's pull sync). Then drop everything up to the new last. */
static int drain_pending(aw_app *app, const aw_sub_rec *sub, int64_t *last)
{
    aw_store *s = aw_app_store(app);
    pend_list l = {NULL, 0};
    int r = s->pending->each(s, sub->actor, sub->subid, collect_pending, &l);
    for (size_t i = 0; i < l.n; i++) {
        if (r != AW_OK || l.v[i].seq <= *last) continue;
        if (l.v[i].seq != *last + 1) break;
        json_t *data = json_object_get(l.v[i].body, "data");
        if (!data) break;
        r = apply(app, sub, data, AW_APPLY_DIFF, l.v[i].seq);
        if (r == AW_OK) *last = l.v[i].seq;
    }
    size_t n = l.n;
    for (size_t i = 0; i < l.n; i++) json_decref(l.v[i].body);
    free(l.v);
    if (r == AW_OK && n > 0) r = s->pending->del_upto(s, sub->actor, sub->subid, *last);
    return r;
}

static int count_one(const aw_sub_rec *r, void *ud)
{
    (*(int *)ud)++;
    return AW_OK;
}

int aw_subscriber_forget_publisher_if_unused(aw_app *app, const char *actor, const char *publisher)
{
    aw_sub_filter f = {.peerid = publisher, .callback = 1};
    int n = 0;
    int r = aw_app_store(app)->subs->each(aw_app_store(app), actor, &f, count_one, &n);
    if (r == AW_OK && n == 0) r = aw_remote_clear(app, actor, publisher);
    return r;
}

/* ------------------------------------------------------------------ acknowledgement */

typedef struct ack_ctx {
    aw_app *app;
    char actor[64], subid[64];
    int64_t seq;
} ack_ctx;

static void on_acked(const aw_result *res, void *ud)
{
    ack_ctx *c = ud;
    int st = aw_result_status(res);
    if (st == AW_OK && aw_app_store(c->app))
        aw_app_store(c->app)->subs->set_state(aw_app_store(c->app), c->actor, c->subid, -1, c->seq, -1);
    if (st != AW_ECANCELED) retry_note(c->app, c->actor, c->subid, st == AW_OK);
    busy_release(c->app, "ack", c->actor, c->subid);
    free(c);
}

static void send_ack(aw_app *app, const aw_sub_rec *sub, int64_t seq)
{
    /* Acknowledged already: the publisher dropped those diffs. */
    if (seq <= 0 || seq <= sub->acked_seq || !busy_take(app, "ack", sub->actor, sub->subid)) return;
    ack_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        busy_release(app, "ack", sub->actor, sub->subid);
        return;
    }
    c->app = app;
    aw_strlcpy(c->actor, sub->actor, sizeof c->actor);
    aw_strlcpy(c->subid, sub->subid, sizeof c->subid);
    c->seq = seq;
    char path[200];
    snprintf(path, sizeof path, "/subscriptions/%s/%s", sub->actor, sub->subid);
    json_t *body = json_pack("{s:I}", "sequence", (json_int_t)seq);
    int r = peer_call(app, sub->actor, sub->peerid, "PUT", path, body, on_acked, c);
    json_decref(body);
    if (r != AW_OK) {
        busy_release(app, "ack", sub->actor, sub->subid);
        free(c);
    }
}

/* ------------------------------------------------------------------ baseline / resync fetch */

typedef struct fetch_ctx {
    aw_app *app;
    char actor[64], subid[64];
    int64_t set_seq;        /* last applied after the fetch */
    aw_apply_kind kind;
    bool narrow;            /* a subtarget (or resource) inside the target: its 404 means "absent" */
    aw_sync_done_fn done;
    void *ud;
} fetch_ctx;

static void on_scope(const aw_result *res, void *ud)
{
    fetch_ctx *c = ud;
    aw_app *app = c->app;
    int st = aw_result_status(res);
    json_t *data = aw_result_json(res), *absent = NULL;
    /* A property (or resource) the publisher does not have yet, or no longer has, is a valid baseline:
     * the mirror holds nothing for it. Treating the 404 as a failure would flag a resync that fails the
     * same way every tick. */
    if (st == AW_EPEER && c->narrow && aw_result_http_status(res) == 404) {
        st = AW_OK;
        data = absent = json_null();
    }
    if (st == AW_OK && !data) st = AW_EPROTO;
    int applied = 0;
    if (st == AW_OK) {
        aw_store *s = aw_app_store(app);
        int r = s->begin(s, true);
        aw_sub_rec sub;
        bool have = false;
        if (r == AW_OK) {
            r = s->subs->get(s, c->actor, c->subid, &sub);
            have = r == AW_OK;
        }
        if (r == AW_OK) r = apply(app, &sub, data, c->kind, c->set_seq);
        int64_t last = have && sub.sequence > c->set_seq ? sub.sequence : c->set_seq;
        if (c->kind == AW_APPLY_RESYNC) last = c->set_seq;
        if (r == AW_OK) r = drain_pending(app, &sub, &last);
        if (r == AW_OK) r = s->subs->set_state(s, c->actor, c->subid, last, -1, 0);
        r = txn_end(app, r);
        if (r == AW_OK && have) {
            applied = 1;
            send_ack(app, &sub, last);
        }
        if (have) aw_sub_rec_free(&sub);
        st = r;
    }
    if (st != AW_OK)
        AW_WARN(&app->log, "subscriber: fetching the scope of %s failed: %s", c->subid, aw_strerror(st));
    if (c->done) c->done(c->ud, st, applied);
    json_decref(absent);
    free(c);
}

static void fetch_scope(aw_app *app, const aw_sub_rec *sub, int64_t set_seq, aw_apply_kind kind, aw_sync_done_fn done,
                        void *ud)
{
    fetch_ctx *c = calloc(1, sizeof *c);
    char *path = scope_path(sub);
    int r = c && path ? AW_OK : AW_ENOMEM;
    if (r == AW_OK) {
        c->app = app;
        aw_strlcpy(c->actor, sub->actor, sizeof c->actor);
        aw_strlcpy(c->subid, sub->subid, sizeof c->subid);
        c->set_seq = set_seq;
        c->kind = kind;
        c->narrow = *sub->subtarget != 0;
        c->done = done;
        c->ud = ud;
        r = peer_call(app, sub->actor, sub->peerid, "GET", path, NULL, on_scope, c);
    }
    free(path);
    if (r != AW_OK) {
        free(c);
        if (done) done(ud, r, 0);
    }
}

void aw_subscriber_baseline(aw_app *app, const char *actor, const char *subid, int64_t publisher_seq,
                            aw_sync_done_fn done, void *ud)
{
    aw_sub_rec sub;
    int r = aw_app_store(app)->subs->get(aw_app_store(app), actor, subid, &sub);
    if (r != AW_OK) {
        if (done) done(ud, r, 0);
        return;
    }
    fetch_scope(app, &sub, publisher_seq, AW_APPLY_BASELINE, done, ud);
    aw_sub_rec_free(&sub);
}

/* ------------------------------------------------------------------ pull sync */

typedef struct sync_ctx {
    aw_app *app;
    char actor[64], subid[64];
    int64_t started_ms;
    aw_sync_done_fn done;
    void *ud;
} sync_ctx;

static void sync_finish(sync_ctx *c, int st, int applied)
{
    busy_release(c->app, "sync", c->actor, c->subid);
    if (c->done) c->done(c->ud, st, applied);
    free(c);
}

static void on_sync_baseline(void *ud, int st, int applied) { sync_finish(ud, st, applied); }

static void on_sync_diffs(const aw_result *res, void *ud)
{
    sync_ctx *c = ud;
    aw_app *app = c->app;
    aw_store *s = aw_app_store(app);
    int st = aw_result_status(res);
    json_t *doc = aw_result_json(res);
    if (st == AW_EPEER && aw_result_http_status(res) == 404) {
        /* The publisher no longer has it: drop the dead mirror (and the data of a last one). */
        AW_WARN(&app->log, "subscriber: publisher forgot subscription %s; removing the mirror", c->subid);
        aw_sub_rec sub;
        if (s->subs->get(s, c->actor, c->subid, &sub) == AW_OK) {
            s->subs->del(s, c->actor, c->subid);
            aw_subscriber_forget_publisher_if_unused(app, c->actor, sub.peerid);
            aw_sub_rec_free(&sub);
        }
        sync_finish(c, AW_ENOTFOUND, 0);
        return;
    }
    if (st == AW_OK && !json_is_object(doc)) st = AW_EPROTO;
    if (st != AW_OK) {
        sync_finish(c, st, 0);
        return;
    }
    json_t *diffs = json_object_get(doc, "data");
    json_int_t pub_seq = json_integer_value(json_object_get(doc, "sequence"));
    int r = s->begin(s, true);
    aw_sub_rec sub;
    bool have = false;
    if (r == AW_OK) {
        r = s->subs->get(s, c->actor, c->subid, &sub);
        have = r == AW_OK;
    }
    int64_t last = have ? sub.sequence : 0;
    int applied = 0;
    bool need_baseline = false;
    size_t i;
    json_t *d;
    json_array_foreach(diffs, i, d) {
        if (r != AW_OK) break;
        json_int_t seq = json_integer_value(json_object_get(d, "sequence"));
        if (seq <= last) continue;
        if (seq != last + 1) {
            need_baseline = true;
            break;
        }
        r = apply(app, &sub, json_object_get(d, "data"), AW_APPLY_DIFF, seq);
        if (r == AW_OK) {
            last = seq;
            applied++;
        }
    }
    if (!need_baseline && pub_seq > last) need_baseline = true;
    if (r == AW_OK && !need_baseline) r = drain_pending(app, &sub, &last);
    if (r == AW_OK && !need_baseline && last >= pub_seq) r = s->pending->del_stale(s, c->actor, c->subid, last, c->started_ms);
    if (r == AW_OK) r = s->subs->set_state(s, c->actor, c->subid, last, -1, need_baseline ? 1 : 0);
    r = txn_end(app, r);
    if (r == AW_OK && have && last > 0) send_ack(app, &sub, last);
    if (r == AW_OK && have && need_baseline) {
        fetch_scope(app, &sub, pub_seq, AW_APPLY_RESYNC, on_sync_baseline, c);
        aw_sub_rec_free(&sub);
        return;
    }
    if (have) aw_sub_rec_free(&sub);
    sync_finish(c, r, applied);
}

void aw_subscriber_sync(aw_app *app, const char *actor, const char *subid, aw_sync_done_fn done, void *ud)
{
    aw_sub_rec sub;
    int r = aw_app_store(app)->subs->get(aw_app_store(app), actor, subid, &sub);
    if (r == AW_OK && !sub.callback) r = AW_EINVAL;
    if (r != AW_OK) {
        if (r == AW_OK || sub.actor) aw_sub_rec_free(&sub);
        if (done) done(ud, r, 0);
        return;
    }
    if (!busy_take(app, "sync", actor, subid)) {
        aw_sub_rec_free(&sub);
        if (done) done(ud, AW_EALREADY, 0);
        return;
    }
    sync_ctx *c = calloc(1, sizeof *c);
    char path[200];
    snprintf(path, sizeof path, "/subscriptions/%s/%s", actor, subid);
    r = c ? AW_OK : AW_ENOMEM;
    if (c) {
        c->app = app;
        aw_strlcpy(c->actor, actor, sizeof c->actor);
        aw_strlcpy(c->subid, subid, sizeof c->subid);
        c->done = done;
        c->ud = ud;
        c->started_ms = aw_time_ms();
        r = peer_call(app, actor, sub.peerid, "GET", path, NULL, on_sync_diffs, c);
    }
    aw_sub_rec_free(&sub);
    if (r != AW_OK) {
        free(c);
        busy_release(app, "sync", actor, subid);
        if (done) done(ud, r, 0);
    }
}

/* ------------------------------------------------------------------ inbound callbacks */

typedef struct rx_ctx {
    aw_app *app;
    char actor[64], subid[64];
    int64_t seq;
    json_t *body;
    aw_sub_reply_fn reply;
    void *ud;
} rx_ctx;

static void rx_finish(rx_ctx *c, int http, const char *msg)
{
    c->reply(c->ud, http, msg);
    json_decref(c->body);
    free(c);
}

/* Queue an out-of-order callback (or one whose fetch failed); arms the gap timer. */
static int queue_callback(aw_app *app, const aw_sub_rec *sub, int64_t seq, json_t *body, bool *full)
{
    aw_store *s = aw_app_store(app);
    int64_t n = 0;
    int r = s->pending->count(s, sub->actor, sub->subid, &n, NULL);
    if (r != AW_OK) return r;
    if (n >= MAX_PENDING) {
        *full = true;
        return s->subs->set_state(s, sub->actor, sub->subid, -1, -1, 1);
    }
    char *txt = aw_json_dump(body);
    if (!txt) return AW_ENOMEM;
    r = s->pending->add(s, sub->actor, sub->subid, seq, txt, aw_time_ms());
    free(txt);
    return r;
}

static void on_low_fetched(const aw_result *res, void *ud)
{
    rx_ctx *c = ud;
    aw_app *app = c->app;
    aw_store *s = aw_app_store(app);
    json_t *doc = aw_result_json(res);
    json_t *data = aw_result_status(res) == AW_OK && json_is_object(doc) ? json_object_get(doc, "data") : NULL;
    int r = s->begin(s, true);
    aw_sub_rec sub;
    bool have = false, full = false, fetched = data != NULL;
    if (r == AW_OK) {
        r = s->subs->get(s, c->actor, c->subid, &sub);
        have = r == AW_OK;
    }
    int64_t last = have ? sub.sequence : 0;
    if (r == AW_OK) {
        if (c->seq <= last) {
            /* applied meanwhile */
        } else if (fetched && c->seq == last + 1) {
            r = apply(app, &sub, data, AW_APPLY_DIFF, c->seq);
            if (r == AW_OK) last = c->seq;
            if (r == AW_OK) r = drain_pending(app, &sub, &last);
            if (r == AW_OK) r = s->subs->set_state(s, c->actor, c->subid, last, -1, -1);
        } else {
            /* A failed fetch is a gap, never an empty diff (sdk-api.md §5.2). */
            r = queue_callback(app, &sub, c->seq, c->body, &full);
        }
    }
    r = txn_end(app, r);
    if (r == AW_OK && have && fetched && last >= c->seq) send_ack(app, &sub, last);
    if (r == AW_OK && (!fetched || full)) aw_subscriber_arm_gap(app);
    if (have) aw_sub_rec_free(&sub);
    if (r != AW_OK) rx_finish(c, 400, "processing failed");
    else if (full) rx_finish(c, 400, "too many queued callbacks");
    else rx_finish(c, 204, NULL);
}

static void on_resync_fetched(void *ud, int st, int applied)
{
    rx_ctx *c = ud;
    if (st != AW_OK) {
        /* Keep the promise to resync: the gap timer retries through a pull sync. */
        aw_app_store(c->app)->subs->set_state(aw_app_store(c->app), c->actor, c->subid, -1, -1, 1);
        aw_subscriber_arm_gap(c->app);
    }
    rx_finish(c, 204, NULL);
}

void aw_subscriber_receive(aw_app *app, const char *actor, const char *subid, json_t *body, aw_sub_rec *known,
                           aw_sub_reply_fn reply, void *ud)
{
    rx_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        reply(ud, 503, "out of memory");
        return;
    }
    c->app = app;
    if (app->subscriber) app->subscriber->last_rx_ms = aw_mono_ms();
    aw_strlcpy(c->actor, actor, sizeof c->actor);
    aw_strlcpy(c->subid, subid, sizeof c->subid);
    c->body = json_incref(body);
    c->reply = reply;
    c->ud = ud;
    json_t *js = json_object_get(body, "sequence");
    c->seq = json_is_integer(js) ? json_integer_value(js) : 0;
    const char *type = aw_json_str(body, "type");
    json_t *data = json_object_get(body, "data");
    const char *url = aw_json_str(body, "url");

    aw_store *s = aw_app_store(app);
    int r = s->begin(s, true);
    aw_sub_rec sub;
    if (r == AW_OK && known) {
        sub = *known; /* read in the transaction this one is a savepoint of: still current */
        memset(known, 0, sizeof *known);
    } else if (r == AW_OK) {
        r = s->subs->get(s, actor, subid, &sub);
    }
    if (r != AW_OK) {
        txn_end(app, r);
        rx_finish(c, r == AW_ENOTFOUND ? 404 : 503, "subscription state unavailable");
        return;
    }
    int64_t last = sub.sequence;
    bool full = false;
    if (type && !strcmp(type, "resync")) {
        if (data) {
            r = apply(app, &sub, data, AW_APPLY_RESYNC, c->seq);
            if (r == AW_OK) r = s->pending->del_upto(s, actor, subid, -1);
            if (r == AW_OK) r = s->subs->set_state(s, actor, subid, c->seq, -1, 0);
            r = txn_end(app, r);
            aw_sub_rec_free(&sub);
            rx_finish(c, r == AW_OK ? 204 : 400, r == AW_OK ? NULL : "processing failed");
        } else {
            r = s->pending->del_upto(s, actor, subid, -1);
            r = txn_end(app, r);
            /* Ref re-reads the subscription's own scope rather than trusting `url`. */
            fetch_scope(app, &sub, c->seq, AW_APPLY_RESYNC, on_resync_fetched, c);
            aw_sub_rec_free(&sub);
        }
        return;
    }
    if (c->seq <= last) { /* duplicate (or no sequence): nothing to do */
        txn_end(app, AW_OK);
        aw_sub_rec_free(&sub);
        rx_finish(c, 204, NULL);
        return;
    }
    if (c->seq > last + 1) {
        r = queue_callback(app, &sub, c->seq, body, &full);
        r = txn_end(app, r);
        aw_sub_rec_free(&sub);
        if (r == AW_OK) aw_subscriber_arm_gap(app);
        if (r != AW_OK) rx_finish(c, 400, "processing failed");
        else if (full) rx_finish(c, 400, "too many queued callbacks");
        else rx_finish(c, 204, NULL);
        return;
    }
    if (!data && url) {
        txn_end(app, AW_OK);
        int st = peer_call(app, actor, sub.peerid, "GET", url, NULL, on_low_fetched, c);
        aw_sub_rec_free(&sub);
        if (st != AW_OK) {
            /* Could not even start the fetch: queue it as a gap. */
            int q = s->begin(s, true);
            aw_sub_rec sub2;
            if (q == AW_OK) q = s->subs->get(s, actor, subid, &sub2);
            if (q == AW_OK) {
                q = queue_callback(app, &sub2, c->seq, body, &full);
                aw_sub_rec_free(&sub2);
            }
            txn_end(app, q);
            aw_subscriber_arm_gap(app);
            rx_finish(c, q == AW_OK ? 204 : 400, NULL);
        }
        return;
    }
    if (data) r = apply(app, &sub, data, AW_APPLY_DIFF, c->seq);
    if (r == AW_OK) last = c->seq;
    if (r == AW_OK) r = drain_pending(app, &sub, &last);
    if (r == AW_OK) r = s->subs->set_state(s, actor, subid, last, -1, -1);
    r = txn_end(app, r);
    aw_sub_rec_free(&sub);
    rx_finish(c, r == AW_OK ? 204 : 400, r == AW_OK ? NULL : "processing failed");
}

/* ------------------------------------------------------------------ periodic work */

/* Every BACKSTOP_TICKS ticks each mirror is pulled once even without any sign of a gap: the publisher
 * gives up on callbacks after a few attempts, and polling is the recovery (protocol.md §9.10). */
#define BACKSTOP_TICKS 300

typedef struct tick_ctx {
    aw_app *app;
    int64_t stale_ms;
    int64_t now_ms;
    bool acks;
    bool backstop;
    size_t n;                          /* mirrors seen */
    char last_actor[64], last_subid[64]; /* the last of them */
} tick_ctx;

static int on_attention(const aw_sub_rec *sub, void *ud)
{
    tick_ctx *t = ud;
    aw_app *app = t->app;
    t->n++;
    aw_strlcpy(t->last_actor, sub->actor, sizeof t->last_actor);
    aw_strlcpy(t->last_subid, sub->subid, sizeof t->last_subid);
    int64_t n = 0, oldest = 0;
    aw_app_store(app)->pending->count(aw_app_store(app), sub->actor, sub->subid, &n, &oldest);
    bool sync = t->backstop || sub->resync_pending || (n > 0 && oldest <= t->stale_ms);
    bool ack = !sync && t->acks && sub->sequence > sub->acked_seq;
    if ((sync || ack) && !aw_mirror_backoff_due(app->subscriber->backoff, sub->actor, sub->subid, t->now_ms))
        return AW_OK;
    if (sync) tick_sync_start(app, sub->actor, sub->subid);
    else if (ack) send_ack(app, sub, sub->sequence);
    return AW_OK;
}

bool aw_subscriber_ack_due(uint64_t now, uint64_t last_ack, uint64_t last_rx)
{
    return now - last_ack >= ACK_INTERVAL_MS && (now - last_rx >= ACK_QUIET_MS || now - last_ack >= ACK_BUSY_MS);
}

static void on_tick(uv_timer_t *h)
{
    aw_subscriber *sb = h->data;
    if (sb->closing) return;
    sb->ticks++;
    uint64_t now = aw_mono_ms();
    bool acks = aw_subscriber_ack_due(now, sb->last_ack_ms, sb->last_rx_ms);
    if (acks) sb->last_ack_ms = now;
    int64_t wall = aw_time_ms();
    if (sb->ticks % BACKSTOP_TICKS == 0) {
        sb->backstop = true;
        aw_mirror_backoff_sweep(sb->backoff, wall);
    }
    tick_ctx t = {sb->app, wall - (int64_t)sb->app->cfg.gap_timeout_ms, wall, acks, sb->backstop, 0, "", ""};
    /* One look per tick, at most 1000 mirrors: the next tick goes on after the last one, and a look that
     * got fewer went round, so the next starts at the first again. The backstop walks every mirror that
     * way, 1000 a tick, then ends. */
    char *ca = sb->backstop ? sb->bs_actor : sb->att_actor, *cs = sb->backstop ? sb->bs_subid : sb->att_subid;
    aw_store *s = aw_app_store(sb->app);
    if (s->subs->each_attention(s, t.stale_ms, t.backstop, ca, cs, on_attention, &t) != AW_OK) return;
    bool more = t.n >= 1000;
    aw_strlcpy(ca, more ? t.last_actor : "", sizeof sb->att_actor); /* both cursors are this size */
    aw_strlcpy(cs, more ? t.last_subid : "", sizeof sb->att_subid);
    if (sb->backstop && !more) sb->backstop = false;
}

void aw_subscriber_arm_gap(aw_app *app) { (void)app; /* the tick runs every second */ }

int aw_subscriber_start(aw_app *app)
{
    aw_subscriber *sb = calloc(1, sizeof *sb);
    if (!sb) return AW_ENOMEM;
    sb->app = app;
    sb->backoff = aw_mirror_backoff_new(); /* NULL (out of memory): no backoff */
    uv_timer_init(app->loop, &sb->tick);
    sb->tick.data = sb;
    uint32_t period = TICK_MS;
    if (app->cfg.gap_timeout_ms && app->cfg.gap_timeout_ms / 2 < period) period = app->cfg.gap_timeout_ms / 2 + 1;
    uv_timer_start(&sb->tick, on_tick, period, period);
    uv_unref((uv_handle_t *)&sb->tick);
    app->subscriber = sb;
    return AW_OK;
}

static void on_closed(uv_handle_t *h) { aw_app_handle_closed(((aw_subscriber *)h->data)->app); }

void aw_subscriber_shutdown(aw_app *app)
{
    aw_subscriber *sb = app->subscriber;
    if (!sb || sb->closing) return;
    sb->closing = true;
    app->closing_handles++;
    uv_close((uv_handle_t *)&sb->tick, on_closed);
}

void aw_subscriber_free(aw_app *app)
{
    aw_subscriber *sb = app->subscriber;
    if (!sb) return;
    json_decref(sb->fires);
    while (sb->busy) {
        busy_node *n = sb->busy;
        sb->busy = n->next;
        free(n);
    }
    aw_mirror_backoff_free(sb->backoff);
    free(sb);
    app->subscriber = NULL;
}
