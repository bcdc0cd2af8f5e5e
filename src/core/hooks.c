/* The hook registry and the chain runner (sdk-api.md §4). See core/hooks.h and actingweb/hooks.h.
 *
 * Reply protocol. One atomic state word per context: IN_CALL while the runner is inside the hook
 * function, REPLIED once a reply is stored, TIMEDOUT once the chain gave up waiting, CLOSED once the hook
 * passed without replying. A reply made while IN_CALL is picked up by the runner when the function
 * returns; a later reply resumes the chain on the loop through aw_app_post (or wakes the waiting
 * caller). Exactly one side handles each reply because the runner clears IN_CALL and the replier sets
 * REPLIED with atomic read-modify-write operations. A context that timed out stays allocated (a late
 * reply must find it) until the app is freed. */
#include "core/hooks.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sdk_internal.h"
#include "store/store.h"
#include "util/log.h"
#include "util/str.h"

#define ST_IN_CALL 1
#define ST_REPLIED 2
#define ST_TIMEDOUT 4
#define ST_CLOSED 8

enum { MODE_LOOP = 0, MODE_INLINE = 1, MODE_WAIT = 2 };

typedef struct lc_entry {
    aw_lifecycle_event ev;
    aw_lifecycle_fn fn;
    void *ud;
} lc_entry;

typedef struct sd_entry {
    char *target;
    aw_sub_data_fn fn;
    void *ud;
} sd_entry;

struct aw_hooks {
    aw_hook_entry *h;
    size_t nh;
    lc_entry *lc;
    size_t nlc;
    sd_entry *sd;
    size_t nsd;
    pthread_mutex_t orphan_mu;
    aw_hook_ctx *orphans;
};

static struct aw_hooks *registry(aw_app *app)
{
    if (!app->hooks) {
        app->hooks = calloc(1, sizeof *app->hooks);
        if (app->hooks) pthread_mutex_init(&app->hooks->orphan_mu, NULL);
    }
    return app->hooks;
}

/* ------------------------------------------------------------------ registration */

static int add_hook(aw_app *app, aw_hook_kind kind, const char *name, unsigned mask, aw_hook_fn fn, void *ud,
                    const aw_method_meta *meta)
{
    if (!app || !fn || !name || !*name || strchr(name, '/')) return AW_EINVAL;
    struct aw_hooks *r = registry(app);
    if (!r) return AW_ENOMEM;
    aw_hook_entry *nh = realloc(r->h, (r->nh + 1) * sizeof *nh);
    if (!nh) return AW_ENOMEM;
    r->h = nh;
    aw_hook_entry *e = &nh[r->nh];
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->mask = mask;
    e->fn = fn;
    e->ud = ud;
    if (strcmp(name, "*") != 0 && !(e->name = strdup(name))) return AW_ENOMEM;
    if (kind == AW_HK_METHOD || kind == AW_HK_ACTION) {
        e->meta = json_pack("{s:s}", "name", name);
        if (!e->meta) {
            free(e->name);
            return AW_ENOMEM;
        }
        if (meta && meta->description) json_object_set_new(e->meta, "description", json_string(meta->description));
        if (meta && meta->input_schema) json_object_set(e->meta, "input_schema", meta->input_schema);
        if (meta && meta->output_schema) json_object_set(e->meta, "output_schema", meta->output_schema);
        if (meta && meta->annotations) json_object_set(e->meta, "annotations", meta->annotations);
    }
    r->nh++;
    return AW_OK;
}

int aw_hook_property(aw_app *app, const char *name, unsigned ops, aw_hook_fn fn, void *ud)
{
    if (!ops || (ops & ~AW_HOOK_PROP_ALL)) return AW_EINVAL;
    return add_hook(app, AW_HK_PROPERTY, name, ops, fn, ud, NULL);
}

int aw_hook_callback(aw_app *app, const char *name, aw_hook_fn fn, void *ud)
{
    if (name && (!strcmp(name, "subscriptions") || !strcmp(name, "permissions"))) return AW_EINVAL;
    return add_hook(app, AW_HK_CALLBACK, name, 0, fn, ud, NULL);
}

int aw_hook_method(aw_app *app, const char *name, const aw_method_meta *meta, aw_hook_fn fn, void *ud)
{
    if (name && !strcmp(name, "*")) return AW_EINVAL;
    return add_hook(app, AW_HK_METHOD, name, 0, fn, ud, meta);
}

int aw_hook_action(aw_app *app, const char *name, const aw_method_meta *meta, aw_hook_fn fn, void *ud)
{
    if (name && !strcmp(name, "*")) return AW_EINVAL;
    return add_hook(app, AW_HK_ACTION, name, 0, fn, ud, meta);
}

int aw_hook_resource(aw_app *app, const char *name, aw_hook_fn fn, void *ud)
{
    return add_hook(app, AW_HK_RESOURCE, name, 0, fn, ud, NULL);
}

int aw_hook_lifecycle(aw_app *app, aw_lifecycle_event event, aw_lifecycle_fn fn, void *ud)
{
    if (!app || !fn || (int)event < 0 || event >= AW_EV_COUNT) return AW_EINVAL;
    struct aw_hooks *r = registry(app);
    if (!r) return AW_ENOMEM;
    lc_entry *n = realloc(r->lc, (r->nlc + 1) * sizeof *n);
    if (!n) return AW_ENOMEM;
    r->lc = n;
    n[r->nlc++] = (lc_entry){event, fn, ud};
    return AW_OK;
}

int aw_hook_sub_data(aw_app *app, const char *target, aw_sub_data_fn fn, void *ud)
{
    if (!app || !fn || !target || !*target) return AW_EINVAL;
    struct aw_hooks *r = registry(app);
    if (!r) return AW_ENOMEM;
    sd_entry *n = realloc(r->sd, (r->nsd + 1) * sizeof *n);
    if (!n) return AW_ENOMEM;
    r->sd = n;
    char *t = NULL;
    if (strcmp(target, "*") != 0 && !(t = strdup(target))) return AW_ENOMEM;
    n[r->nsd++] = (sd_entry){t, fn, ud};
    return AW_OK;
}

const char *aw_lifecycle_event_name(aw_lifecycle_event ev)
{
    static const char *const names[AW_EV_COUNT] = {
        "actor_created",  "actor_deleted",       "actor_deleted_complete",     "trust_initiated",
        "trust_request_received", "trust_approved", "trust_fully_approved_local", "trust_fully_approved_remote",
        "trust_deleted",  "subscription_deleted"};
    return (int)ev >= 0 && ev < AW_EV_COUNT ? names[ev] : "unknown";
}

/* ------------------------------------------------------------------ lookup */

static bool entry_matches(const aw_hook_entry *e, aw_hook_kind kind, const char *name, unsigned op, bool exact)
{
    if (e->kind != kind) return false;
    if (kind == AW_HK_PROPERTY && op && !(e->mask & op)) return false;
    if (exact) return e->name && name && !strcmp(e->name, name);
    return e->name == NULL;
}

bool aw_hooks_match(aw_app *app, aw_hook_kind kind, const char *name, unsigned op)
{
    struct aw_hooks *r = app->hooks;
    if (!r) return false;
    for (size_t i = 0; i < r->nh; i++)
        if (entry_matches(&r->h[i], kind, name, op, true) || entry_matches(&r->h[i], kind, name, op, false))
            return true;
    return false;
}

bool aw_hooks_any(aw_app *app, aw_hook_kind kind)
{
    struct aw_hooks *r = app->hooks;
    for (size_t i = 0; r && i < r->nh; i++)
        if (r->h[i].kind == kind) return true;
    return false;
}

size_t aw_hooks_list(aw_app *app, aw_hook_kind kind, json_t **out, size_t cap)
{
    struct aw_hooks *r = app->hooks;
    size_t n = 0;
    for (size_t i = 0; r && i < r->nh; i++)
        if (r->h[i].kind == kind && r->h[i].meta) {
            if (n < cap) out[n] = r->h[i].meta;
            n++;
        }
    return n;
}

aw_hook_entry *aw_hooks_find(aw_app *app, aw_hook_kind kind, const char *name)
{
    struct aw_hooks *r = app->hooks;
    for (size_t i = 0; r && i < r->nh; i++)
        if (entry_matches(&r->h[i], kind, name, 0, true)) return &r->h[i];
    return NULL;
}

/* ------------------------------------------------------------------ contexts */

aw_hook_ctx *aw_hooks_ctx_new(aw_app *app, aw_hook_kind kind, const char *name, const char *verb)
{
    aw_hook_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->app = app;
    c->kind = kind;
    c->name = strdup(name ? name : "");
    aw_strlcpy(c->verb, verb ? verb : "", sizeof c->verb);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    atomic_init(&c->st, 0);
    atomic_init(&c->post_failed, false);
    if (!c->name) {
        free(c);
        return NULL;
    }
    return c;
}

int aw_hooks_ctx_set_path(aw_hook_ctx *c, const char *const *segs, size_t n)
{
    c->path = calloc(n ? n : 1, sizeof *c->path);
    if (!c->path) return AW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(c->path[i] = strdup(segs[i]))) return AW_ENOMEM;
        c->npath = i + 1;
    }
    return AW_OK;
}

static void ctx_free(aw_hook_ctx *c)
{
    free(c->name);
    aw_actor_unref(c->actor);
    for (size_t i = 0; i < c->npath; i++) free(c->path[i]);
    free(c->path);
    json_decref(c->query);
    json_decref(c->value);
    json_decref(c->r_json);
    free(c->chain);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

static void orphan(aw_hook_ctx *c)
{
    struct aw_hooks *r = c->app->hooks;
    pthread_mutex_lock(&r->orphan_mu);
    c->next_orphan = r->orphans;
    r->orphans = c;
    pthread_mutex_unlock(&r->orphan_mu);
}

/* Public accessors. */
aw_app *aw_hook_app(const aw_hook_ctx *c) { return c ? c->app : NULL; }
aw_actor *aw_hook_actor(const aw_hook_ctx *c) { return c ? c->actor : NULL; }
aw_caller_kind aw_hook_caller(const aw_hook_ctx *c) { return c ? c->caller : AW_CALLER_ANONYMOUS; }
const char *aw_hook_peer_id(const aw_hook_ctx *c) { return c && c->caller == AW_CALLER_PEER ? c->peerid : NULL; }
const char *aw_hook_relationship(const aw_hook_ctx *c)
{
    return c && c->caller == AW_CALLER_PEER ? c->relationship : NULL;
}
const char *aw_hook_request_id(const aw_hook_ctx *c) { return c ? c->request_id : ""; }
const char *aw_hook_verb(const aw_hook_ctx *c) { return c ? c->verb : ""; }
const char *aw_hook_name(const aw_hook_ctx *c) { return c ? c->name : ""; }
size_t aw_hook_path_count(const aw_hook_ctx *c) { return c ? c->npath : 0; }
const char *aw_hook_path(const aw_hook_ctx *c, size_t i) { return c && i < c->npath ? c->path[i] : NULL; }
const char *aw_hook_query(const aw_hook_ctx *c, const char *key)
{
    return c && c->query && key ? json_string_value(json_object_get(c->query, key)) : NULL;
}
json_t *aw_hook_body(const aw_hook_ctx *c) { return c ? c->value : NULL; }
unsigned aw_hook_prop_op(const aw_hook_ctx *c) { return c ? c->prop_op : 0; }

/* ------------------------------------------------------------------ the chain */

static void chain_continue(aw_hook_ctx *c);

static void close_timer(aw_hook_ctx *c)
{
    if (!c->timer) return;
    uv_timer_stop(c->timer);
    uv_close((uv_handle_t *)c->timer, (uv_close_cb)free);
    c->timer = NULL;
}

static void finish(aw_hook_ctx *c, int status, json_t *value, bool timed_out)
{
    close_timer(c);
    c->done(c, status, value, c->done_ud);
    if (timed_out) orphan(c);
    else ctx_free(c);
}

/* Consume the stored reply; true when the chain ended. */
static bool take_reply(aw_hook_ctx *c)
{
    int s = c->r_status;
    json_t *j = c->r_json;
    c->r_json = NULL;
    if (s == 0) {
        if (j) {
            json_decref(c->value);
            c->value = j;
        }
        c->r_status = -100; /* marks "transformed at least once" */
        return false;
    }
    finish(c, s, j, false);
    json_decref(j);
    return true;
}

static void resume(aw_app *app, void *ud)
{
    aw_hook_ctx *c = ud;
    close_timer(c);
    if (!take_reply(c)) chain_continue(c);
}

static void on_timeout(uv_timer_t *t)
{
    aw_hook_ctx *c = t->data;
    int exp = 0;
    if (atomic_compare_exchange_strong(&c->st, &exp, ST_TIMEDOUT)) {
        AW_WARN(&c->app->log, "hook for %s did not reply within %u ms: 504", c->name,
                (unsigned)c->app->cfg.hook_timeout_ms);
        finish(c, 504, NULL, true);
        return;
    }
    /* Replied, but the hand-over to the loop failed (shutting down): resume from here. */
    if ((exp & ST_REPLIED) && atomic_load(&c->post_failed)) resume(c->app, c);
}

static uint32_t timeout_ms(aw_app *app) { return app->cfg.hook_timeout_ms ? app->cfg.hook_timeout_ms : 10000; }

/* Wait on the caller's thread for a reply; true when one came. */
static bool wait_reply(aw_hook_ctx *c)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    uint32_t ms = timeout_ms(c->app);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (!(atomic_load(&c->st) & ST_REPLIED)) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT) {
            int exp = 0;
            if (atomic_compare_exchange_strong(&c->st, &exp, ST_TIMEDOUT)) {
                pthread_mutex_unlock(&c->mu);
                return false;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return true;
}

static void chain_continue(aw_hook_ctx *c)
{
    while (c->next < c->nchain) {
        aw_hook_entry *e = c->chain[c->next++];
        atomic_store(&c->st, ST_IN_CALL);
        aw_hook_result ret = e->fn(c, e->ud);
        int old = atomic_load(&c->st), want;
        do {
            if (old & ST_REPLIED) want = old & ~ST_IN_CALL;
            else if (ret == AW_HOOK_PENDING) want = old & ~ST_IN_CALL;
            else want = ST_CLOSED;
        } while (!atomic_compare_exchange_weak(&c->st, &old, want));
        if (old & ST_REPLIED) {
            if (take_reply(c)) return;
            continue;
        }
        if (ret != AW_HOOK_PENDING) continue; /* passed */
        if (c->mode == MODE_LOOP) {
            c->timer = malloc(sizeof *c->timer);
            if (c->timer && uv_timer_init(c->app->loop, c->timer) == 0) {
                c->timer->data = c;
                uv_timer_start(c->timer, on_timeout, timeout_ms(c->app), 0);
                return;
            }
            free(c->timer);
            c->timer = NULL;
            /* Cannot arm the timeout: give up now (503), unless the reply is already on its way. */
            int exp0 = 0;
            if (atomic_compare_exchange_strong(&c->st, &exp0, ST_TIMEDOUT)) finish(c, 503, NULL, true);
            else if (atomic_load(&c->post_failed)) resume(c->app, c);
            return;
        }
        if (c->mode == MODE_WAIT) {
            if (!wait_reply(c)) {
                finish(c, 504, NULL, true);
                return;
            }
            if (take_reply(c)) return;
            continue;
        }
        /* MODE_INLINE: nobody may wait on the loop thread. */
        int exp = 0;
        if (atomic_compare_exchange_strong(&c->st, &exp, ST_TIMEDOUT)) {
            AW_WARN(&c->app->log, "hook for %s went pending inside a synchronous call on the loop thread", c->name);
            finish(c, AW_HOOKS_WOULDBLOCK, NULL, true);
            return;
        }
        if (take_reply(c)) return; /* it replied in between */
    }
    finish(c, c->r_status == -100 ? 0 : AW_HOOKS_UNHANDLED, c->value, false);
}

void aw_hooks_run(aw_hook_ctx *c, bool async_ok, aw_hooks_done_fn done, void *ud)
{
    c->done = done;
    c->done_ud = ud;
    c->r_status = 0;
    struct aw_hooks *r = c->app->hooks;
    size_t n = 0;
    if (r) {
        c->chain = calloc(r->nh ? r->nh : 1, sizeof *c->chain);
        if (!c->chain) {
            finish(c, 503, NULL, false);
            return;
        }
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < r->nh; i++)
                if (entry_matches(&r->h[i], c->kind, c->name, c->prop_op, pass == 0)) c->chain[n++] = &r->h[i];
    }
    c->nchain = n;
    if (aw_app_on_loop_thread(c->app)) c->mode = async_ok ? MODE_LOOP : MODE_INLINE;
    else c->mode = MODE_WAIT;
    chain_continue(c);
}

int aw_hook_reply(aw_hook_ctx *c, int status, json_t *json)
{
    if (!c || (status != 0 && (status < 100 || status > 599))) return AW_EINVAL;
    pthread_mutex_lock(&c->mu);
    int old = atomic_load(&c->st);
    if (old & ST_TIMEDOUT) {
        pthread_mutex_unlock(&c->mu);
        return AW_ETIMEDOUT;
    }
    if (old & (ST_REPLIED | ST_CLOSED)) {
        pthread_mutex_unlock(&c->mu);
        return AW_EALREADY;
    }
    c->r_status = status;
    c->r_json = json ? json_incref(json) : NULL;
    while (!atomic_compare_exchange_weak(&c->st, &old, old | ST_REPLIED)) {
        if (old & (ST_TIMEDOUT | ST_REPLIED | ST_CLOSED)) {
            json_decref(c->r_json);
            c->r_json = NULL;
            pthread_mutex_unlock(&c->mu);
            return (old & ST_TIMEDOUT) ? AW_ETIMEDOUT : AW_EALREADY;
        }
    }
    int mode = c->mode;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (!(old & ST_IN_CALL) && mode == MODE_LOOP) {
        if (aw_app_post(c->app, resume, c) != AW_OK) atomic_store(&c->post_failed, true);
    }
    return AW_OK;
}

int aw_hook_reject(aw_hook_ctx *c) { return aw_hook_reply(c, 403, NULL); }
int aw_hook_hide(aw_hook_ctx *c) { return aw_hook_reply(c, 404, NULL); }

/* ------------------------------------------------------------------ lifecycle and data hooks */

bool aw_hooks_has_lifecycle(aw_app *app, aw_lifecycle_event ev)
{
    struct aw_hooks *r = app->hooks;
    for (size_t i = 0; r && i < r->nlc; i++)
        if (r->lc[i].ev == ev) return true;
    return false;
}

int aw_hooks_fire_lifecycle(aw_app *app, aw_lifecycle_event ev, aw_event_origin origin, const char *actor_id,
                            const char *peerid, const char *relationship, const char *subid, json_t *record,
                            bool by_peer)
{
    if (!aw_hooks_has_lifecycle(app, ev)) return 0;
    struct aw_hooks *r = app->hooks;
    aw_actor *a = NULL;
    if (actor_id && ev != AW_EV_ACTOR_DELETED_COMPLETE) {
        int st;
        a = aw_actor_load(app, actor_id, &st);
    }
    aw_lifecycle_info info = {.event = ev, .origin = origin, .actor_id = actor_id, .actor = a, .peer_id = peerid,
                              .relationship = relationship, .subid = subid, .record = record,
                              .initiated_by_peer = by_peer};
    int decision = AW_TRUST_DEFAULT;
    for (size_t i = 0; i < r->nlc; i++) {
        if (r->lc[i].ev != ev) continue;
        int d = r->lc[i].fn(app, &info, r->lc[i].ud);
        if (ev == AW_EV_TRUST_REQUEST_RECEIVED && decision == AW_TRUST_DEFAULT && d > 0 && d <= AW_TRUST_DENY)
            decision = d;
    }
    aw_actor_unref(a);
    return ev == AW_EV_TRUST_REQUEST_RECEIVED ? decision : 0;
}

json_t *aw_trust_rec_json(const aw_trust_rec *r); /* core/trust.c */

int aw_hooks_fire_trust(aw_app *app, aw_lifecycle_event ev, aw_event_origin origin, const aw_trust_rec *rec,
                        bool by_peer)
{
    if (!rec || !aw_hooks_has_lifecycle(app, ev)) return 0;
    json_t *j = aw_trust_rec_json(rec);
    int d = aw_hooks_fire_lifecycle(app, ev, origin, rec->actor, rec->peerid, rec->relationship, NULL, j, by_peer);
    json_decref(j);
    return d;
}

bool aw_hooks_has_sub_data(aw_app *app) { return app->hooks && app->hooks->nsd > 0; }

void aw_hooks_fire_sub_data(aw_app *app, const char *actor_id, const char *peerid, const char *subid,
                            const char *target, const char *subtarget, const char *resource, json_t *data,
                            int64_t seq, const char *kind)
{
    struct aw_hooks *r = app->hooks;
    if (!r || !r->nsd) return;
    aw_sub_data d = {actor_id, peerid, subid, target, subtarget, resource, data, seq, kind};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->nsd; i++) {
            sd_entry *e = &r->sd[i];
            bool m = pass == 0 ? (e->target && target && !strcmp(e->target, target)) : e->target == NULL;
            if (!m) continue;
            int rc = e->fn(app, &d, e->ud);
            if (rc != 0)
                AW_WARN(&app->log, "subscription data hook for %s/%s seq %lld failed (%d)", actor_id, subid,
                        (long long)seq, rc);
        }
}

void aw_hooks_free(aw_app *app)
{
    struct aw_hooks *r = app->hooks;
    if (!r) return;
    for (size_t i = 0; i < r->nh; i++) {
        free(r->h[i].name);
        json_decref(r->h[i].meta);
    }
    free(r->h);
    free(r->lc);
    for (size_t i = 0; i < r->nsd; i++) free(r->sd[i].target);
    free(r->sd);
    aw_hook_ctx *c = r->orphans;
    while (c) {
        aw_hook_ctx *n = c->next_orphan;
        ctx_free(c);
        c = n;
    }
    pthread_mutex_destroy(&r->orphan_mu);
    free(r);
    app->hooks = NULL;
}
