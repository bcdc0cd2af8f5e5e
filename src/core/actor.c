/* Actor deletion (protocol.md §2.3): every trust is ended with a notice to its peer (§7.8), the devtest
 * twin (§11) is deleted, then the local cascade runs. The notices go out in parallel; a peer that cannot
 * be reached does not block the deletion (clarifications #3: logged until the outbox retries them). */
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "core/trust.h"
#include "util/json.h"

typedef struct actor_del {
    aw_req *req;
    void (*done)(aw_req *req, int status);
    size_t pending;
    size_t npeers;
    char **peers;
} actor_del;

static void actor_del_step(actor_del *d)
{
    if (--d->pending > 0) return;
    aw_req *req = d->req;
    aw_store *s = req->app->store;
    int r = s->actors->delete(s, req->actor.id);
    void (*done)(aw_req *, int) = d->done;
    for (size_t i = 0; i < d->npeers; i++) free(d->peers[i]);
    free(d->peers);
    free(d);
    done(req, r);
}

static void trust_gone(const aw_trust_outcome *o, void *ud) { actor_del_step(ud); }

static void twin_gone(const aw_result *res, void *ud)
{
    actor_del *d = ud;
    if (aw_result_status(res) != AW_OK && aw_result_http_status(res) != 404)
        AW_WARN(&d->req->app->log, "actor %s: deleting the devtest twin failed (%s, HTTP %d)", d->req->actor.id,
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
    aw_app *app = d->req->app;
    char *json = NULL;
    if (app->store->attrs->get(app->store, d->req->actor.id, AW_DEVTEST_TWIN_BUCKET, AW_DEVTEST_TWIN_NAME, &json,
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

void aw_actor_delete_for_request(aw_req *req, void (*done)(aw_req *req, int status))
{
    aw_store *s = req->app->store;
    actor_del *d = calloc(1, sizeof *d);
    if (!d) {
        done(req, AW_ENOMEM);
        return;
    }
    d->req = req;
    d->done = done;
    d->pending = 1; /* our own hold, released below */
    int r = s->trusts->each(s, req->actor.id, NULL, collect_peer, d);
    if (r != AW_OK) AW_WARN(&req->app->log, "actor %s: cannot list trusts for notices: %s", req->actor.id, aw_strerror(r));
    else {
        for (size_t i = 0; i < d->npeers; i++) {
            d->pending++;
            if (aw_trust_delete_start(req->app, req->actor.id, NULL, d->peers[i], true, trust_gone, d) != AW_OK)
                d->pending--;
        }
        d->pending++;
        if (!start_twin_delete(d)) d->pending--;
    }
    actor_del_step(d);
}
