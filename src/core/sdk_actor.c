/* The SDK actor handle (include/actingweb/actor.h) and the helper that runs SDK work on the loop. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/hooks.h"
#include "core/sdk_internal.h"
#include "util/rand.h"

/* ------------------------------------------------------------------ running SDK work */

static void exec_on_loop(aw_app *app, void *ud)
{
    aw_sdk_call *call = ud;
    call->start(call);
}

int aw_sdk_exec(aw_app *app, aw_sdk_call *call, void (*start)(aw_sdk_call *call))
{
    call->app = app;
    call->start = start;
    call->done = false;
    call->status = AW_OK;
    pthread_mutex_init(&call->mu, NULL);
    pthread_cond_init(&call->cv, NULL);
    call->marshalled = app->attached && !aw_app_on_loop_thread(app);
    /* Storage belongs to the loop thread: another thread hands the work over and waits. Once the app
     * stops, the loop takes no more work and running it here could race the loop: AW_ESHUTDOWN. */
    if (!call->marshalled) start(call);
    else if (aw_app_post(app, exec_on_loop, call) != AW_OK) aw_sdk_complete(call, AW_ESHUTDOWN);
    pthread_mutex_lock(&call->mu);
    while (!call->done) pthread_cond_wait(&call->cv, &call->mu);
    pthread_mutex_unlock(&call->mu);
    pthread_mutex_destroy(&call->mu);
    pthread_cond_destroy(&call->cv);
    return call->status;
}

void aw_sdk_complete(aw_sdk_call *call, int status)
{
    pthread_mutex_lock(&call->mu);
    call->status = status;
    call->done = true;
    pthread_cond_signal(&call->cv);
    pthread_mutex_unlock(&call->mu);
}

/* ------------------------------------------------------------------ handles */

aw_actor *aw_actor_from_rec(aw_app *app, const aw_actor_rec *rec)
{
    aw_actor *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    atomic_init(&a->refs, 1);
    a->app = app;
    memcpy(a->rec.id, rec->id, sizeof a->rec.id);
    a->rec.creator = strdup(rec->creator ? rec->creator : "");
    a->rec.passphrase = strdup(rec->passphrase ? rec->passphrase : "");
    a->rec.trustee_root = rec->trustee_root ? strdup(rec->trustee_root) : NULL;
    a->root_url = aw_app_actor_url(app, rec->id);
    if (!a->rec.creator || !a->rec.passphrase || !a->root_url || (rec->trustee_root && !a->rec.trustee_root)) {
        aw_actor_unref(a);
        return NULL;
    }
    return a;
}

aw_actor *aw_actor_load(aw_app *app, const char *actor_id, int *status)
{
    aw_actor_rec rec;
    if (!actor_id || strlen(actor_id) >= sizeof rec.id) {
        *status = AW_ENOTFOUND;
        return NULL;
    }
    *status = aw_app_store(app)->actors->get(aw_app_store(app), actor_id, &rec);
    if (*status != AW_OK) return NULL;
    aw_actor *a = aw_actor_from_rec(app, &rec);
    aw_actor_rec_free(&rec);
    if (!a) *status = AW_ENOMEM;
    return a;
}

aw_actor *aw_actor_ref(aw_actor *a)
{
    if (a) atomic_fetch_add(&a->refs, 1);
    return a;
}

void aw_actor_unref(aw_actor *a)
{
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1) return;
    aw_actor_rec_free(&a->rec);
    free(a->root_url);
    free(a);
}

const char *aw_actor_id(const aw_actor *a) { return a ? a->rec.id : NULL; }
const char *aw_actor_creator(const aw_actor *a) { return a ? a->rec.creator : NULL; }
const char *aw_actor_passphrase(const aw_actor *a) { return a ? a->rec.passphrase : NULL; }
const char *aw_actor_root_url(const aw_actor *a) { return a ? a->root_url : NULL; }
const char *aw_actor_trustee_root(const aw_actor *a) { return a ? a->rec.trustee_root : NULL; }
aw_app *aw_actor_app(const aw_actor *a) { return a ? a->app : NULL; }

/* ------------------------------------------------------------------ create / get */

typedef struct actor_call {
    aw_sdk_call call;
    const char *creator, *passphrase, *trustee_root, *id;
    bool by_creator;
    aw_actor *out;
    aw_actor *del;
} actor_call;

static void create_start(aw_sdk_call *call)
{
    actor_call *c = (actor_call *)call;
    aw_app *app = call->app;
    aw_store *s = aw_app_store(app);
    const char *in = c->creator;
    while (*in && isspace((unsigned char)*in)) in++;
    size_t n = strlen(in);
    while (n && isspace((unsigned char)in[n - 1])) n--;
    if (n == 0 || n > 255) {
        aw_sdk_complete(call, AW_EINVAL);
        return;
    }
    aw_actor_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.creator = strndup(in, n);
    if (rec.creator && strchr(rec.creator, '@'))
        for (char *p = rec.creator; *p; p++) *p = (char)tolower((unsigned char)*p);
    char pass[41];
    const char *pp = c->passphrase;
    if (!pp || !*pp) pp = aw_new_token(pass) == 0 ? pass : NULL;
    rec.passphrase = pp ? strdup(pp) : NULL;
    rec.trustee_root = c->trustee_root && *c->trustee_root ? strdup(c->trustee_root) : NULL;
    int r = rec.creator && rec.passphrase ? AW_OK : AW_ENOMEM;
    if (r == AW_OK && app->cfg.unique_creator) {
        aw_actor_rec ex;
        r = s->actors->get_by_creator(s, rec.creator, &ex);
        if (r == AW_OK) {
            aw_actor_rec_free(&ex);
            r = AW_ECONFLICT;
        } else if (r == AW_ENOTFOUND) r = AW_OK;
    }
    if (r == AW_OK) {
        r = AW_ECONFLICT;
        for (int i = 0; i < 3 && r == AW_ECONFLICT; i++) {
            if (aw_new_id(rec.id) != 0) break;
            r = s->actors->create(s, &rec);
        }
    }
    if (r == AW_OK) {
        c->out = aw_actor_from_rec(app, &rec);
        if (!c->out) r = AW_ENOMEM;
        else aw_hooks_fire_lifecycle(app, AW_EV_ACTOR_CREATED, AW_ORIGIN_SDK, rec.id, NULL, NULL, NULL, NULL, false);
    }
    aw_actor_rec_free(&rec);
    aw_sdk_complete(call, r);
}

int aw_actor_create(aw_app *app, const char *creator, const char *passphrase, const char *trustee_root,
                    aw_actor **out)
{
    if (!app || !creator || !out) return AW_EINVAL;
    *out = NULL;
    if ((passphrase && strlen(passphrase) > 1024) || (trustee_root && strlen(trustee_root) > 2048)) return AW_EINVAL;
    actor_call c = {.creator = creator, .passphrase = passphrase, .trustee_root = trustee_root};
    int r = aw_sdk_exec(app, &c.call, create_start);
    if (r == AW_OK) *out = c.out;
    return r;
}

static void get_start(aw_sdk_call *call)
{
    actor_call *c = (actor_call *)call;
    aw_app *app = call->app;
    int r;
    if (c->by_creator) {
        aw_actor_rec rec;
        r = aw_app_store(app)->actors->get_by_creator(aw_app_store(app), c->id, &rec);
        if (r == AW_OK) {
            c->out = aw_actor_from_rec(app, &rec);
            aw_actor_rec_free(&rec);
            if (!c->out) r = AW_ENOMEM;
        }
    } else {
        c->out = aw_actor_load(app, c->id, &r);
    }
    aw_sdk_complete(call, r);
}

int aw_actor_get(aw_app *app, const char *id, aw_actor **out)
{
    if (!app || !id || !out) return AW_EINVAL;
    *out = NULL;
    actor_call c = {.id = id};
    int r = aw_sdk_exec(app, &c.call, get_start);
    if (r == AW_OK) *out = c.out;
    return r;
}

int aw_actor_get_by_creator(aw_app *app, const char *creator, aw_actor **out)
{
    if (!app || !creator || !out) return AW_EINVAL;
    *out = NULL;
    actor_call c = {.id = creator, .by_creator = true};
    int r = aw_sdk_exec(app, &c.call, get_start);
    if (r == AW_OK) *out = c.out;
    return r;
}

/* ------------------------------------------------------------------ delete */

static void deleted(int status, void *ud) { aw_sdk_complete(ud, status); }

static void delete_start(aw_sdk_call *call)
{
    actor_call *c = (actor_call *)call;
    aw_actor_delete_start(call->app, c->del->rec.id, AW_ORIGIN_SDK, call->marshalled, deleted, call);
}

int aw_actor_delete(aw_actor *a)
{
    if (!a) return AW_EINVAL;
    actor_call c = {.del = a};
    return aw_sdk_exec(a->app, &c.call, delete_start);
}
