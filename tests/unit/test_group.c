/* Group commit bookkeeping (src/store/group.c): joins share one transaction, deferred work runs after the
 * commit and in order with the commit status, a failed commit rolls the group back and reports the
 * failure, and without a group deferred work runs at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "app_internal.h"
#include "loop_app.h"
#include "store/group.h"

static int setup(void **state)
{
    fx *f = loop_app_open("group", 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    loop_app_close(*state);
    return 0;
}

typedef struct seen {
    int order[8];
    int status[8];
    int n;
    aw_app *app;
    bool active_inside; /* a deferred call saw the group still open */
} seen;

typedef struct mark {
    seen *s;
    int id;
} mark;

static void record(void *ud, int status)
{
    mark *m = ud;
    m->s->order[m->s->n] = m->id;
    m->s->status[m->s->n] = status;
    m->s->n++;
    if (aw_group_active(m->s->app)) m->s->active_inside = true;
}

static int set_prop(aw_app *app, const char *name)
{
    aw_store *s = app->store;
    int r = s->begin(s, true);
    if (r == AW_OK) r = s->props->set(s, "group-actor", name, "1", true);
    if (r == AW_OK) return s->commit(s);
    s->rollback(s);
    return r;
}

static void deferred_work_runs_after_the_commit_in_order(void **state)
{
    fx *f = *state;
    aw_app *app = f->app;
    seen s = {.app = app};
    mark m[3] = {{&s, 1}, {&s, 2}, {&s, 3}};
    /* Without a group, deferred work runs at once. */
    assert_false(aw_group_active(app));
    aw_group_defer(app, record, &m[0]);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.status[0], AW_OK);
    assert_int_equal(aw_group_flush(app), AW_OK); /* nothing open: a no-op */
    /* Two joins share one group; their work is visible inside it and committed by the flush. */
    s.n = 0;
    assert_true(aw_group_join(app));
    assert_true(aw_group_join(app));
    assert_true(aw_group_active(app));
    assert_int_equal(set_prop(app, "a"), AW_OK);
    aw_group_defer(app, record, &m[1]);
    assert_int_equal(set_prop(app, "b"), AW_OK);
    aw_group_defer(app, record, &m[2]);
    assert_int_equal(s.n, 0); /* held until the commit */
    assert_int_equal(aw_group_flush(app), AW_OK);
    assert_false(aw_group_active(app));
    assert_int_equal(s.n, 2);
    assert_int_equal(s.order[0], 2);
    assert_int_equal(s.order[1], 3);
    assert_int_equal(s.status[0], AW_OK);
    assert_int_equal(s.status[1], AW_OK);
    assert_false(s.active_inside); /* deferred work runs outside the group */
    char *v = NULL;
    bool js;
    assert_int_equal(app->store->props->get(app->store, "group-actor", "b", &v, &js), AW_OK);
    free(v);
}

/* A group_end that fails after rolling back (as a failed COMMIT does). */
static int (*real_group_end)(aw_store *s, bool commit);
static int failing_group_end(aw_store *s, bool commit)
{
    real_group_end(s, false);
    return AW_ESTORAGE;
}

static void a_failed_commit_is_reported_and_rolled_back(void **state)
{
    fx *f = *state;
    aw_app *app = f->app;
    seen s = {.app = app};
    mark m = {&s, 7};
    real_group_end = app->store->group_end;
    app->store->group_end = failing_group_end;
    assert_true(aw_group_join(app));
    assert_int_equal(set_prop(app, "lost"), AW_OK);
    aw_group_defer(app, record, &m);
    assert_int_equal(aw_group_flush(app), AW_ESTORAGE);
    app->store->group_end = real_group_end;
    assert_int_equal(s.n, 1);
    assert_int_equal(s.status[0], AW_ESTORAGE);
    char *v = NULL;
    bool js;
    assert_int_equal(app->store->props->get(app->store, "group-actor", "lost", &v, &js), AW_ENOTFOUND);
    /* The store works as before afterwards. */
    assert_int_equal(set_prop(app, "after"), AW_OK);
    assert_int_equal(app->store->props->get(app->store, "group-actor", "after", &v, &js), AW_OK);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(deferred_work_runs_after_the_commit_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_commit_is_reported_and_rolled_back, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
