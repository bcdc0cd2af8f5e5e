/* The storage executor (src/store/exec.h): jobs run on worker threads with pooled handles of their own,
 * aw_app_store() hands a job its handle, completions run on the loop thread, and the loop keeps turning
 * while a job waits. */
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
#include "store/exec.h"

#define NJOBS 40

typedef struct job {
    fx *f;
    int i;
    bool own_handle;     /* aw_app_store() inside the job returned the job's handle, not the loop's */
    bool off_loop;       /* the work ran off the loop thread */
    bool done_on_loop;   /* the completion ran on the loop thread */
    int write_status;
    int done_status;
    int *n_done;
    unsigned sleep_us;
} job;

static int setup(void **state)
{
    fx *f = loop_app_open("exec", 3);
    assert_non_null(f->app->exec);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    loop_app_close(*state);
    return 0;
}

static void work(aw_store *s, void *ud)
{
    job *j = ud;
    if (j->sleep_us) usleep(j->sleep_us);
    j->own_handle = aw_app_store(j->f->app) == s && s != j->f->app->store;
    j->off_loop = !aw_app_on_loop_thread(j->f->app);
    char name[16], value[16];
    snprintf(name, sizeof name, "p%d", j->i);
    snprintf(value, sizeof value, "%d", j->i);
    j->write_status = s->props->set(s, "exec-actor", name, value, true);
}

static void done(void *ud, int status)
{
    job *j = ud;
    j->done_status = status;
    j->done_on_loop = aw_app_on_loop_thread(j->f->app);
    (*j->n_done)++;
}

static void jobs_run_on_workers_and_complete_on_the_loop(void **state)
{
    fx *f = *state;
    job jobs[NJOBS];
    int n_done = 0;
    for (int i = 0; i < NJOBS; i++) {
        jobs[i] = (job){.f = f, .i = i, .n_done = &n_done, .done_status = -999};
        assert_int_equal(aw_store_exec_submit(f->app->exec, work, done, &jobs[i]), AW_OK);
    }
    assert_int_equal(aw_store_exec_pending(f->app->exec), NJOBS);
    while (n_done < NJOBS) uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(aw_store_exec_pending(f->app->exec), 0);
    aw_store *s = f->app->store;
    for (int i = 0; i < NJOBS; i++) {
        assert_true(jobs[i].own_handle);
        assert_true(jobs[i].off_loop);
        assert_true(jobs[i].done_on_loop);
        assert_int_equal(jobs[i].write_status, AW_OK);
        assert_int_equal(jobs[i].done_status, AW_OK);
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        char *v = NULL;
        bool js = false;
        assert_int_equal(s->props->get(s, "exec-actor", name, &v, &js), AW_OK); /* visible to the loop's handle */
        assert_int_equal(atoi(v), i);
        free(v);
    }
    /* Outside a job, and on the loop thread, aw_app_store() is the app's own handle. */
    assert_ptr_equal(aw_app_store(f->app), f->app->store);
    assert_null(aw_store_exec_current(f->app->exec));
}

static int ticks;
static void on_tick(uv_timer_t *t) { ticks++; }

static void the_loop_turns_while_a_job_waits(void **state)
{
    fx *f = *state;
    int n_done = 0;
    job j = {.f = f, .i = 1000, .n_done = &n_done, .sleep_us = 300000};
    uv_timer_t t;
    uv_timer_init(&f->loop, &t);
    uv_timer_start(&t, on_tick, 10, 10);
    ticks = 0;
    assert_int_equal(aw_store_exec_submit(f->app->exec, work, done, &j), AW_OK);
    while (n_done < 1) uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(j.done_status, AW_OK);
    assert_true(ticks >= 10); /* ~30 timer ticks fit in the 300 ms the job slept */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(jobs_run_on_workers_and_complete_on_the_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(the_loop_turns_while_a_job_waits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
