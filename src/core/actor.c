/* Actor deletion (protocol.md §2.3): every trust is ended with a notice to its peer (§7.8), the devtest
 * twin (§11) is deleted, then the local cascade runs. The notices go out in parallel; a peer that cannot
 * be reached does not block the deletion (clarifications #3: logged until the outbox retries them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/hooks.h"
#include "core/trust.h"
#include "util/json.h"
#include "util/str.h"

typedef struct actor_del {
    aw_app *app;
    char actor_id[64];
    void (*done)(int status, void *ud);
    void *ud;
    size_t pending;
    size_t npeers;
    char **peers;
} actor_del;

static void actor_del_step(actor_del *d)
{
    if (--d->pending > 0) return;
    aw_store *s = aw_app_store(d->app);
    int r = s->actors->delete(s, d->actor_id);
    if (r == AW_OK)
        aw_hooks_fire_lifecycle(d->app, AW_EV_ACTOR_DELETED_COMPLETE, AW_ORIGIN_CASCADE, d->actor_id, NULL, NULL,
                                NULL, NULL, false);
    void (*done)(int, void *) = d->done;
    void *ud = d->ud;
    for (size_t i = 0; i < d->npeers; i++) free(d->peers[i]);
    free(d->peers);
    free(d);
    done(r, ud);
}

static void trust_gone(const aw_trust_outcome *o, void *ud) { actor_del_step(ud); }

static void twin_gone(const aw_result *res, void *ud)
{
    actor_del *d = ud;
    if (aw_result_status(res) != AW_OK && aw_result_http_status(res) != 404)
        AW_WARN(&d->app->log, "actor %s: deleting the devtest twin failed (%s, HTTP %d)", d->actor_id,
                aw_strerror(aw_result_status(res)), aw_result_http_status(res));
    actor_del_step(d);
}

static int collect_peer(const aw_trust_rec *r, void *ud)
{
    actor_del *d = ud;
    char **np = realloc(d->peers, (d->npeers + 1) * sizeof *np);
    if (!np) return AW_ENOMEM;
    d->peers = np;
    if (!(np[d->npeers] = strdup(r->peerid))) return AW_ENOMEM;
    d->npeers++;
    return AW_OK;
}

/* DELETE the twin actor with its trustee credentials; true when the request went out. */
static bool start_twin_delete(actor_del *d)
{
    aw_app *app = d->app;
    char *json = NULL;
    if (aw_app_store(app)->attrs->get(aw_app_store(app), d->actor_id, AW_DEVTEST_TWIN_BUCKET, AW_DEVTEST_TWIN_NAME, &json,
                               NULL) != AW_OK)
        return false;
    json_t *t = json_loads(json, 0, NULL);
    free(json);
    const char *url = aw_json_str(t, "url"), *pass = aw_json_str(t, "passphrase");
    bool started = false;
    if (url && pass) {
        aw_peer_request pr = {0};
        pr.method = "DELETE";
        pr.url = url;
        pr.basic_user = "trustee";
        pr.basic_pass = pass;
        started = aw_peer_request_async(app, &pr, NULL, twin_gone, d, NULL) == AW_OK;
    }
    json_decref(t);
    return started;
}

static int collect_rec(const aw_trust_rec *r, void *ud)
{
    json_t *arr = ud;
    json_t *j = aw_trust_rec_json(r);
    return j && json_array_append_new(arr, j) == 0 ? AW_OK : AW_ENOMEM;
}

void aw_actor_delete_start(aw_app *app, const char *actor_id, aw_event_origin origin, bool notify,
                           void (*done)(int status, void *ud), void *ud)
{
    aw_store *s = aw_app_store(app);
    aw_actor_rec probe;
    int r = strlen(actor_id) < sizeof probe.id ? s->actors->get(s, actor_id, &probe) : AW_ENOTFOUND;
    if (r != AW_OK) {
        done(r, ud);
        return;
    }
    aw_actor_rec_free(&probe);
    /* Before the wipe: the data is still readable. */
    aw_hooks_fire_lifecycle(app, AW_EV_ACTOR_DELETED, origin, actor_id, NULL, NULL, NULL, NULL, false);
    if (!notify) {
        /* Local cascade only (no loop to wait on): trust_deleted per trust after the wipe. */
        json_t *recs = json_array();
        r = recs ? s->trusts->each(s, actor_id, NULL, collect_rec, recs) : AW_ENOMEM;
        if (r == AW_OK) r = s->actors->delete(s, actor_id);
        size_t i;
        json_t *t;
        if (r == AW_OK) {
            json_array_foreach(recs, i, t)
                aw_hooks_fire_lifecycle(app, AW_EV_TRUST_DELETED, AW_ORIGIN_CASCADE, actor_id,
                                        json_string_value(json_object_get(t, "peerid")),
                                        json_string_value(json_object_get(t, "relationship")), NULL, t, false);
            aw_hooks_fire_lifecycle(app, AW_EV_ACTOR_DELETED_COMPLETE, origin, actor_id, NULL, NULL, NULL, NULL,
                                    false);
        }
        json_decref(recs);
        done(r, ud);
        return;
    }
    actor_del *d = calloc(1, sizeof *d);
    if (!d) {
        done(AW_ENOMEM, ud);
        return;
    }
    d->app = app;
    aw_strlcpy(d->actor_id, actor_id, sizeof d->actor_id);
    d->done = done;
    d->ud = ud;
    d->pending = 1; /* our own hold, released below */
    r = s->trusts->each(s, actor_id, NULL, collect_peer, d);
    if (r != AW_OK) AW_WARN(&app->log, "actor %s: cannot list trusts for notices: %s", actor_id, aw_strerror(r));
    else {
        for (size_t i = 0; i < d->npeers; i++) {
            d->pending++;
            if (aw_trust_delete_start_ex(app, actor_id, NULL, d->peers[i], true, AW_ORIGIN_CASCADE, trust_gone, d) !=
                AW_OK)
                d->pending--;
        }
        d->pending++;
        if (!start_twin_delete(d)) d->pending--;
    }
    actor_del_step(d);
}

typedef struct req_del {
    aw_req *req;
    void (*done)(aw_req *req, int status);
} req_del;

static void req_deleted(int status, void *ud)
{
    req_del rd = *(req_del *)ud;
    free(ud);
    rd.done(rd.req, status);
}

void aw_actor_delete_for_request(aw_req *req, void (*done)(aw_req *req, int status))
{
    req_del *rd = malloc(sizeof *rd);
    if (!rd) {
        done(req, AW_ENOMEM);
        return;
    }
    rd->req = req;
    rd->done = done;
    aw_actor_delete_start(req->app, req->actor.id, AW_ORIGIN_HTTP, true, req_deleted, rd);
}
