/* Test helper (cmocka): an aw_app on a SQLite file in a fresh temporary directory, attached to a libuv loop
 * that the test itself runs (UV_RUN_ONCE) on its own thread. Header-only; include after <cmocka.h>. */
#ifndef AW_TEST_LOOP_APP_H
#define AW_TEST_LOOP_APP_H

#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "app_internal.h"

typedef struct fx {
    char dir[64];
    aw_app *app;
    uv_loop_t loop;
} fx;

static inline void loop_app_quiet(aw_log_level l, const char *m, void *ud) {}

/* A new app (not attached) on the SQLite file `path`; store_threads > 0 turns the storage executor on. */
static inline aw_app *loop_app_new_on(const char *path, unsigned store_threads)
{
    char storage[160];
    snprintf(storage, sizeof storage, "sqlite:%s", path);
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.base_url = "http://127.0.0.1:1";
    cfg.storage = storage;
    cfg.log_cb = loop_app_quiet;
    cfg.store_threads = store_threads;
    aw_app *a = NULL;
    assert_int_equal(aw_app_new(&cfg, &a), AW_OK);
    return a;
}

/* A new fixture; store_threads > 0 turns the storage executor on. */
static inline fx *loop_app_open(const char *name, unsigned store_threads)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/aw-unit-%s-XXXXXX", name);
    assert_non_null(mkdtemp(f->dir));
    char path[128];
    snprintf(path, sizeof path, "%s/db.sqlite", f->dir);
    f->app = loop_app_new_on(path, store_threads);
    uv_loop_init(&f->loop);
    assert_int_equal(aw_app_attach(f->app, &f->loop), AW_OK);
    return f;
}

static inline void loop_app_closed(aw_app *app, void *ud) { *(int *)ud = 1; }

/* Close an app attached to `loop`, running the loop until it has closed (the app is not freed). */
static inline void loop_app_shut(aw_app *app, uv_loop_t *loop)
{
    int closed = 0;
    aw_app_close(app, loop_app_closed, &closed);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
}

/* Close the app (running the loop until it has), free everything and remove the directory. */
static inline void loop_app_close(fx *f)
{
    loop_app_shut(f->app, &f->loop);
    aw_app_free(f->app);
    uv_loop_close(&f->loop);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) {}
    free(f);
}

#endif
