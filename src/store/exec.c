/* The storage executor (see exec.h): jobs on libuv's thread pool, a bounded pool of store handles
 * opened on demand, completions on the loop. */
#include <stdlib.h>
#include <uv.h>

#include "app_internal.h"
#include "store/exec.h"

typedef struct slot {
    uv_thread_t tid;
    aw_store *s;   /* NULL: free slot */
} slot;

struct aw_store_exec {
    aw_app *app;
    uv_mutex_t mu;
    uv_cond_t cv;
    unsigned max;      /* handles at most */
    unsigned n_open;
    aw_store **idle;   /* max entries */
    unsigned n_idle;
    slot *busy;        /* max entries: which worker thread holds which handle */
    unsigned pending;  /* loop thread only */
};

typedef struct job {
    uv_work_t w;
    aw_store_exec *x;
    aw_store_work_fn work;
    aw_store_done_fn done;
    void *ud;
    int status;
} job;

int aw_store_exec_new(aw_app *app, unsigned threads, aw_store_exec **out)
{
    *out = NULL;
    if (threads == 0) threads = 1;
    aw_store_exec *x = calloc(1, sizeof *x);
    if (!x) return AW_ENOMEM;
    x->app = app;
    x->max = threads;
    x->idle = calloc(threads, sizeof *x->idle);
    x->busy = calloc(threads, sizeof *x->busy);
    if (!x->idle || !x->busy || uv_mutex_init(&x->mu) != 0) {
        free(x->idle);
        free(x->busy);
        free(x);
        return AW_ENOMEM;
    }
    if (uv_cond_init(&x->cv) != 0) {
        uv_mutex_destroy(&x->mu);
        free(x->idle);
        free(x->busy);
        free(x);
        return AW_ENOMEM;
    }
    *out = x;
    return AW_OK;
}

void aw_store_exec_free(aw_store_exec *x)
{
    if (!x) return;
    for (unsigned i = 0; i < x->n_idle; i++) x->idle[i]->close(x->idle[i]);
    uv_cond_destroy(&x->cv);
    uv_mutex_destroy(&x->mu);
    free(x->idle);
    free(x->busy);
    free(x);
}

/* Worker: take an idle handle, or open one while under the limit, or wait for one. */
static aw_store *acquire(aw_store_exec *x, int *status)
{
    aw_store *s = NULL;
    *status = AW_OK;
    uv_mutex_lock(&x->mu);
    while (!x->n_idle && x->n_open >= x->max) uv_cond_wait(&x->cv, &x->mu);
    if (x->n_idle) {
        s = x->idle[--x->n_idle];
    } else {
        x->n_open++;
        uv_mutex_unlock(&x->mu);
        int r = aw_store_open(x->app->cfg.storage, &x->app->log, &s);
        uv_mutex_lock(&x->mu);
        if (r != AW_OK) {
            s = NULL;
            *status = r == AW_ESTORAGE_TRANSIENT ? r : AW_ESTORAGE;
            x->n_open--;
            uv_cond_signal(&x->cv);
        }
    }
    if (s) {
        for (unsigned i = 0; i < x->max; i++) {
            if (!x->busy[i].s) {
                x->busy[i].s = s;
                x->busy[i].tid = uv_thread_self();
                break;
            }
        }
    }
    uv_mutex_unlock(&x->mu);
    return s;
}

static void release(aw_store_exec *x, aw_store *s)
{
    uv_mutex_lock(&x->mu);
    for (unsigned i = 0; i < x->max; i++) {
        if (x->busy[i].s == s) {
            x->busy[i].s = NULL;
            break;
        }
    }
    x->idle[x->n_idle++] = s;
    uv_cond_signal(&x->cv);
    uv_mutex_unlock(&x->mu);
}

aw_store *aw_store_exec_current(aw_store_exec *x)
{
    if (!x) return NULL;
    uv_thread_t self = uv_thread_self();
    aw_store *s = NULL;
    uv_mutex_lock(&x->mu);
    for (unsigned i = 0; i < x->max; i++) {
        if (x->busy[i].s && uv_thread_equal(&x->busy[i].tid, &self)) {
            s = x->busy[i].s;
            break;
        }
    }
    uv_mutex_unlock(&x->mu);
    return s;
}

static void work_cb(uv_work_t *w)
{
    job *j = w->data;
    int st;
    aw_store *s = acquire(j->x, &st);
    if (!s) {
        AW_ERROR(&j->x->app->log, "storage executor: cannot open a storage connection");
        j->status = st;
        return;
    }
    j->work(s, j->ud);
    release(j->x, s);
    j->status = AW_OK;
}

static void after_cb(uv_work_t *w, int status)
{
    job *j = w->data;
    j->x->pending--;
    j->done(j->ud, status == UV_ECANCELED ? AW_ECANCELED : j->status);
    free(j);
}

int aw_store_exec_submit(aw_store_exec *x, aw_store_work_fn work, aw_store_done_fn done, void *ud)
{
    if (!x->app->loop) return AW_ESHUTDOWN;
    job *j = calloc(1, sizeof *j);
    if (!j) return AW_ENOMEM;
    j->x = x;
    j->work = work;
    j->done = done;
    j->ud = ud;
    j->w.data = j;
    if (uv_queue_work(x->app->loop, &j->w, work_cb, after_cb) != 0) {
        free(j);
        return AW_ESHUTDOWN;
    }
    x->pending++;
    return AW_OK;
}

unsigned aw_store_exec_pending(const aw_store_exec *x) { return x ? x->pending : 0; }
