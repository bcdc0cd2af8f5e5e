/* Test fixture for the SQLite store tests: a fresh database in a temp directory per test, a second raw
 * connection for checking rows directly, and record makers. */
#ifndef AW_TEST_STORE_FIXTURE_H
#define AW_TEST_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

typedef struct fx {
    char dir[64];
    char path[128];
    aw_store *s;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/aw-unit-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    char spec[160];
    snprintf(spec, sizeof spec, "sqlite:%s", f->path);
    assert_int_equal(aw_store_open(spec, NULL, &f->s), AW_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    if (f->s) f->s->close(f->s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

/* ------------------------------------------------------------------ direct SQL helpers */
static inline sqlite3 *raw_open(const fx *f)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static inline int64_t raw_int(sqlite3 *db, const char *sql, const char *arg)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (arg) sqlite3_bind_text(st, 1, arg, -1, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static inline void raw_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        print_error("SQL failed: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
        fail();
    }
}

/* Rows belonging to `actor` summed over every table that has an `actor` column (so that tables added
 * by later migrations are covered without touching this test). */
static inline int64_t rows_of_actor(sqlite3 *db, const char *actor, int *ntables, bool report)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c"
                                        " WHERE m.type = 'table' AND c.name = 'actor'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int64_t total = 0;
    *ntables = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\" WHERE actor = ?1", sqlite3_column_text(st, 0));
        int64_t n = raw_int(db, sql, actor);
        if (n && report) print_error("table %s still has %lld rows of %s\n", sqlite3_column_text(st, 0), (long long)n, actor);
        total += n;
        (*ntables)++;
    }
    sqlite3_finalize(st);
    total += raw_int(db, "SELECT count(*) FROM actors WHERE id = ?1", actor);
    return total;
}

static inline void mk_actor(aw_store *s, const char *id, const char *creator)
{
    aw_actor_rec a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "%s", id);
    a.creator = (char *)creator;
    a.passphrase = (char *)"pass";
    assert_int_equal(s->actors->create(s, &a), AW_OK);
}

static inline void mk_trust(aw_store *s, const char *actor, const char *peer, const char *rel, const char *type,
                     const char *secret)
{
    aw_trust_rec t;
    memset(&t, 0, sizeof t);
    t.actor = (char *)actor;
    t.peerid = (char *)peer;
    t.baseuri = (char *)"http://127.0.0.1:9/x";
    t.type = (char *)type;
    t.relationship = (char *)rel;
    t.secret = (char *)secret;
    t.desc = (char *)"d";
    t.approved = true;
    assert_int_equal(s->trusts->upsert(s, &t), AW_OK);
}

#endif
