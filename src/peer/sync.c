/* Sync forms: start the async form, wait on a condition variable (sdk-api.md §0.3). */
#include <pthread.h>
#include <stdlib.h>

#include "peer/internal.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    const aw_result *res;
} waiter;

static void on_done(const aw_result *res, void *ud)
{
    waiter *w = ud;
    const aw_result *r = aw_result_ref(res);
    pthread_mutex_lock(&w->mu);
    w->res = r;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int aw_sync_call(aw_app *app, int (*start)(aw_app *app, void *ctx, aw_done_cb cb, void *ud), void *ctx,
                 aw_result **out, const char *what)
{
    if (out) *out = NULL;
    if (!app) return AW_EINVAL;
    if (aw_app_on_loop_thread(app)) {
        AW_WARN(&app->log, "%s: synchronous network call on the loop thread refused (AW_EWOULDBLOCK)", what);
        if (out) {
            aw_result *r = aw_result_new(AW_EWOULDBLOCK);
            aw_result_setmsg(r, "%s: synchronous call on the loop thread", what);
            *out = r;
        }
        return AW_EWOULDBLOCK;
    }
    waiter w = {.done = false, .res = NULL};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int r = start(app, ctx, on_done, &w);
    if (r == AW_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        r = aw_result_status(w.res);
        if (out) *out = (aw_result *)w.res;
        else aw_result_unref(w.res);
    } else if (out) {
        aw_result *res = aw_result_new(r);
        if (res) aw_result_setmsg(res, "%s: %s", what, aw_strerror(r));
        *out = res;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return r;
}

typedef struct {
    const aw_peer_request *req;
    const aw_call_opts *opts;
} req_ctx;

static int req_start(aw_app *app, void *ctx, aw_done_cb cb, void *ud)
{
    req_ctx *c = ctx;
    return aw_peer_request_async(app, c->req, c->opts, cb, ud, NULL);
}

int aw_peer_request_sync(aw_app *app, const aw_peer_request *req, const aw_call_opts *opts, aw_result **out)
{
    req_ctx c = {req, opts};
    return aw_sync_call(app, req_start, &c, out, "aw_peer_request_sync");
}
