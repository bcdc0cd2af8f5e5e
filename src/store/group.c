/* Group commit of loop-thread work (see group.h). */
#include <stdlib.h>

#include "store/group.h"
#include "util/log.h"

typedef struct deferred {
    aw_group_fn fn;
    void *ud;
} deferred;

struct aw_group {
    bool open;
    deferred *v;
    size_t n, cap;
    unsigned members; /* joins in the open group */
};

static struct aw_group *group_of(aw_app *app)
{
    if (!app->group) app->group = calloc(1, sizeof *app->group);
    return app->group;
}

bool aw_group_active(const aw_app *app) { return app->group && app->group->open; }

bool aw_group_join(aw_app *app)
{
    struct aw_group *g = group_of(app);
    if (!g) return false;
    if (g->open) {
        g->members++;
        return true;
    }
    aw_store *s = app->store; /* the loop's own store: groups never run on executor workers */
    if (!s->group_begin || !aw_app_on_loop_thread(app)) return false;
    if (s->group_begin(s) != AW_OK) return false;
    g->open = true;
    g->members = 1;
    return true;
}

int aw_group_flush(aw_app *app)
{
    struct aw_group *g = app->group;
    if (!g || !g->open) return AW_OK;
    g->open = false; /* deferred work (hooks, answers) runs outside the group */
    int r = app->store->group_end(app->store, true);
    if (r != AW_OK)
        AW_WARN(&app->log, "group commit of %u requests failed: %s; they are answered as failed", g->members,
                aw_strerror(r));
    /* Deferred work may join a new group (never in practice: it answers requests); take the list first. */
    deferred *v = g->v;
    size_t n = g->n;
    g->v = NULL;
    g->n = g->cap = 0;
    for (size_t i = 0; i < n; i++) v[i].fn(v[i].ud, r);
    free(v);
    return r;
}

void aw_group_defer(aw_app *app, aw_group_fn fn, void *ud)
{
    struct aw_group *g = app->group;
    if (g && g->open) {
        if (g->n == g->cap) {
            size_t nc = g->cap ? g->cap * 2 : 32;
            deferred *p = realloc(g->v, nc * sizeof *p);
            if (!p) {
                fn(ud, aw_group_flush(app)); /* out of memory: end the group now, then run fn */
                return;
            }
            g->v = p;
            g->cap = nc;
        }
        g->v[g->n++] = (deferred){fn, ud};
        return;
    }
    fn(ud, AW_OK);
}

void aw_group_free(aw_app *app)
{
    if (!app->group) return;
    if (app->group->open) aw_group_flush(app);
    free(app->group->v);
    free(app->group);
    app->group = NULL;
}
