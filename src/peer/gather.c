/* aw_gather: wait for N operations (sdk-api.md §3.3). Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "peer/internal.h"

typedef struct gslot {
    aw_gather *g;
    size_t idx;
    bool done;
    bool added;              /* started by the gather (aw_gather_add): counts in in_flight */
    aw_gather_start_fn start; /* aw_gather_add: starter, NULL once started */
    void *arg;
    aw_op *op;               /* attached op (own reference) */
    const aw_result *res;
} gslot;

struct aw_gather {
    aw_app *app;
    aw_peer_engine *eng;
    aw_gather_done_cb done_cb;
    void *ud;
    gslot **slots;
    size_t n, cap, n_done, n_failed;
    bool sealed, finishing;
    uint32_t max_in_flight, in_flight;
    size_t next_add;          /* first slot that may still wait for its starter */
    aw_tnode tn;              /* deadline, then the deferred done */
    bool deadline_armed;
    bool in_pump;
};

static void g_fire(aw_tnode *n);

static void g_check(aw_gather *g)
{
    if (!g->sealed || g->n_done < g->n || g->finishing) return;
    g->finishing = true;
    aw_peer_timer_start(g->eng, &g->tn, 0); /* done_cb on a later loop turn */
}

static void g_finish(aw_gather *g)
{
    const aw_result **res = calloc(g->n ? g->n : 1, sizeof *res);
    for (size_t i = 0; res && i < g->n; i++) res[i] = g->slots[i]->res;
    g->done_cb(g, res, g->n, g->n_failed, g->ud);
    free(res);
    for (size_t i = 0; i < g->n; i++) {
        aw_result_unref(g->slots[i]->res);
        aw_op_unref(g->slots[i]->op);
        free(g->slots[i]);
    }
    free(g->slots);
    free(g);
}

static void slot_complete(gslot *s, const aw_result *res)
{
    aw_gather *g = s->g;
    if (s->done) return;
    s->done = true;
    s->res = res;
    g->n_done++;
    if (aw_result_status(res) != AW_OK) g->n_failed++;
    if (s->op) {
        aw_op_unref(s->op);
        s->op = NULL;
    }
}

static void pump(aw_gather *g);

static void slot_cb(const aw_result *res, void *ud)
{
    gslot *s = ud;
    aw_gather *g = s->g;
    if (s->done) return; /* cannot happen: exactly once */
    bool was_added = s->added;
    slot_complete(s, aw_result_ref(res));
    if (was_added && g->in_flight) g->in_flight--;
    pump(g);
    g_check(g);
}

static void fail_slot(gslot *s, int status)
{
    aw_result *r = aw_result_new(status);
    if (r) aw_result_setmsg(r, "gather slot %zu: %s", s->idx, aw_strerror(status));
    slot_complete(s, r);
}

static void pump(aw_gather *g)
{
    if (g->in_pump) return;
    g->in_pump = true;
    while (g->next_add < g->n) {
        gslot *s = g->slots[g->next_add];
        if (!s->start) {
            g->next_add++;
            continue;
        }
        if (g->max_in_flight && g->in_flight >= g->max_in_flight) break;
        aw_gather_start_fn fn = s->start;
        void *arg = s->arg;
        s->start = NULL;
        s->added = true;
        g->next_add++;
        g->in_flight++;
        aw_op *op = NULL;
        int r = fn(g->app, arg, slot_cb, s, &op);
        if (r != AW_OK) {
            g->in_flight--;
            s->added = false;
            if (op) aw_op_unref(op);
            fail_slot(s, r);
            continue;
        }
        if (op) {
            if (s->done) aw_op_unref(op);
            else s->op = op; /* the starter's reference becomes ours */
        }
    }
    g->in_pump = false;
}

int aw_gather_new(aw_app *app, aw_gather_done_cb done_cb, void *ud, const aw_gather_opts *opts, aw_gather **out)
{
    if (out) *out = NULL;
    if (!app || !done_cb || !out) return AW_EINVAL;
    if (!aw_peer_eng_accepting(app)) return AW_ESHUTDOWN;
    aw_gather *g = calloc(1, sizeof *g);
    if (!g) return AW_ENOMEM;
    g->app = app;
    g->eng = aw_peer_eng(app);
    g->done_cb = done_cb;
    g->ud = ud;
    g->tn.fire = g_fire;
    if (opts) g->max_in_flight = opts->max_in_flight;
    if (opts && opts->deadline_ms) {
        g->deadline_armed = true;
        (void)aw_peer_now(g->eng);
        aw_peer_timer_start(g->eng, &g->tn, opts->deadline_ms);
    }
    *out = g;
    return AW_OK;
}

static gslot *new_slot(aw_gather *g)
{
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 8;
        gslot **ns = realloc(g->slots, nc * sizeof *ns);
        if (!ns) abort();
        g->slots = ns;
        g->cap = nc;
    }
    gslot *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->g = g;
    s->idx = g->n;
    g->slots[g->n++] = s;
    return s;
}

size_t aw_gather_slot(aw_gather *g, aw_done_cb *cb, void **cb_ud)
{
    gslot *s = new_slot(g);
    *cb = slot_cb;
    *cb_ud = s;
    return s->idx;
}

void aw_gather_attach(aw_gather *g, size_t slot, aw_op *op)
{
    if (!op || slot >= g->n) return;
    gslot *s = g->slots[slot];
    if (s->done || s->op) return;
    atomic_fetch_add(&op->refs, 1);
    s->op = op;
}

void aw_gather_fail(aw_gather *g, size_t slot, int status)
{
    if (slot >= g->n) return;
    fail_slot(g->slots[slot], status);
    g_check(g);
}

size_t aw_gather_add(aw_gather *g, aw_gather_start_fn start, void *arg)
{
    gslot *s = new_slot(g);
    s->start = start;
    s->arg = arg;
    pump(g);
    return s->idx;
}

void aw_gather_seal(aw_gather *g)
{
    g->sealed = true;
    g_check(g);
}

void aw_gather_cancel(aw_gather *g)
{
    for (size_t i = 0; i < g->n; i++) {
        gslot *s = g->slots[i];
        if (s->done) continue;
        if (s->start) { /* never started: cancelled in place */
            s->start = NULL;
            fail_slot(s, AW_ECANCELED);
        } else if (s->op) {
            aw_op *op = s->op;
            aw_op_cancel(op); /* completion (AW_ECANCELED) arrives on a later loop turn */
        }
    }
    g_check(g);
}

static void g_fire(aw_tnode *n)
{
    aw_gather *g = (aw_gather *)((char *)n - offsetof(aw_gather, tn));
    if (g->finishing) {
        g_finish(g);
        return;
    }
    /* the deadline */
    g->deadline_armed = false;
    aw_gather_cancel(g);
}
