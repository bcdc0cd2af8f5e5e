/* The WAL-gathering VFS shim (src/store/sqlite/walbuf.c): a commit's frames reach the WAL file in one
 * write, before the commit is visible; other connections (with the shim or without it) read committed data
 * at once; a killed writer loses nothing it committed; runs larger than one write and rewritten frames
 * leave an intact database. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sqlite/sqlite.h"

typedef struct fx {
    char dir[64];
    char path[96];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/aw_walbuf_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char p[128];
    static const char *const sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static sqlite3 *open_db(const fx *f, bool shim)
{
    sqlite3 *db = NULL;
    const char *vfs = shim ? aw_sq_walbuf_vfs() : NULL;
    if (shim) assert_non_null(vfs);
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                      " PRAGMA wal_autocheckpoint=0;", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void exec(sqlite3 *db, const char *sql) { assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK); }

static long long count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* write(2)-family calls of this process so far (/proc/self/io syscw). */
static long long syscw(void)
{
    FILE *io = fopen("/proc/self/io", "r");
    assert_non_null(io);
    char line[128];
    long long v = -1;
    while (fgets(line, sizeof line, io))
        if (sscanf(line, "syscw: %lld", &v) == 1) break;
    fclose(io);
    return v;
}

static void integrity_ok(sqlite3 *db)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* Ten rows on scattered pages: SQLite writes 2 calls per frame; through the shim the commit is one. */
static void commit_is_one_write(void **state)
{
    fx *f = *state;
    sqlite3 *db = open_db(f, true);
    exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
    exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
             " INSERT INTO t SELECT i * 7, printf('%0300d', i) FROM n");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "UPDATE t SET v = v || 'x' WHERE k = ?1", -1, &st, NULL), SQLITE_OK);
    long long w0 = syscw();
    exec(db, "BEGIN");
    for (int i = 0; i < 10; i++) {
        sqlite3_bind_int(st, 1, (1 + i * 190) * 7);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    exec(db, "COMMIT");
    long long writes = syscw() - w0;
    sqlite3_finalize(st);
    assert_true(count(db, "PRAGMA page_count") > 100);
    assert_int_equal(writes, 1); /* ~10 frames: 20 calls without the shim */
    sqlite3_close(db);
}

/* Readers on other connections, with and without the shim, see each commit as soon as it returns; the
 * default VFS (the checkpointer's) can checkpoint and restart the WAL under a shim writer. */
static void other_connections_see_commits(void **state)
{
    fx *f = *state;
    sqlite3 *w = open_db(f, true), *r1 = open_db(f, true), *r2 = open_db(f, false);
    exec(w, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
    sqlite3_stmt *ins;
    assert_int_equal(sqlite3_prepare_v2(w, "INSERT INTO t(v) VALUES(printf('%0500d', ?1))", -1, &ins, NULL),
                     SQLITE_OK);
    for (int i = 1; i <= 300; i++) {
        sqlite3_bind_int(ins, 1, i);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        assert_int_equal(count(r1, "SELECT count(*) FROM t"), i);
        assert_int_equal(count(r2, "SELECT count(*) FROM t"), i);
        if (i % 100 == 0) {
            int log = -1, done = -1;
            assert_int_equal(sqlite3_wal_checkpoint_v2(r2, NULL, SQLITE_CHECKPOINT_RESTART, &log, &done), SQLITE_OK);
            assert_int_equal(log, done);
        }
    }
    sqlite3_finalize(ins);
    integrity_ok(r2);
    sqlite3_close(r1);
    sqlite3_close(r2);
    sqlite3_close(w);
}

/* A transaction larger than one gathered run (the unix VFS takes at most 128 KiB per write), a rolled
 * back one that spilled frames, and frames rewritten within a transaction (the same page changed after a
 * cache spill) leave exactly the committed data. */
static void large_and_rewritten_transactions(void **state)
{
    fx *f = *state;
    sqlite3 *db = open_db(f, true);
    exec(db, "PRAGMA cache_size=10"); /* spill dirty pages to the WAL mid-transaction */
    exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
    exec(db, "BEGIN");
    exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
             " INSERT INTO t SELECT i, printf('%0400d', i) FROM n");
    exec(db, "UPDATE t SET v = 'first' WHERE k = 1");
    exec(db, "UPDATE t SET v = 'again' WHERE k = 1"); /* page 1's frame is written again */
    exec(db, "COMMIT");
    exec(db, "BEGIN");
    exec(db, "UPDATE t SET v = printf('%0600d', k)");
    exec(db, "ROLLBACK");
    sqlite3 *r = open_db(f, false);
    assert_int_equal(count(r, "SELECT count(*) FROM t"), 3000);
    assert_int_equal(count(r, "SELECT count(*) FROM t WHERE k = 1 AND v = 'again'"), 1);
    assert_int_equal(count(r, "SELECT sum(length(v)) FROM t"), 2999 * 400 + 5);
    integrity_ok(r);
    sqlite3_close(r);
    sqlite3_close(db);
}

/* A writer killed with SIGKILL right after its commits returned loses none of them. */
static void killed_writer_keeps_commits(void **state)
{
    fx *f = *state;
    sqlite3 *db = open_db(f, true);
    exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)");
    sqlite3_close(db);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *c = NULL;
        if (sqlite3_open_v2(f->path, &c, SQLITE_OPEN_READWRITE, aw_sq_walbuf_vfs()) != SQLITE_OK) _exit(1);
        sqlite3_exec(c, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
        for (int i = 0; i < 50; i++)
            if (sqlite3_exec(c, "INSERT INTO t(v) VALUES(printf('%0900d', random()))", NULL, NULL, NULL) != SQLITE_OK)
                _exit(1);
        char ok = 'k';
        if (write(pfd[1], &ok, 1) != 1) _exit(1);
        pause(); /* killed here, its connection still open */
        _exit(0);
    }
    close(pfd[1]);
    char got = 0;
    assert_int_equal(read(pfd[0], &got, 1), 1);
    close(pfd[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    sqlite3 *r = open_db(f, false);
    assert_int_equal(count(r, "SELECT count(*) FROM t"), 50);
    integrity_ok(r);
    sqlite3_close(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(commit_is_one_write, setup, teardown),
        cmocka_unit_test_setup_teardown(other_connections_see_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(large_and_rewritten_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(killed_writer_keeps_commits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
