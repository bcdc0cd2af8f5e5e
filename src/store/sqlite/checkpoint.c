/* Background WAL checkpoints for one SQLite connection.
 *
 * A checkpoint copies WAL frames back into the database file. Run on the connection's own thread (an
 * event loop's), it stalled that loop for tens of milliseconds every few hundred: in a burst of
 * subscription callbacks the publisher delivered nothing for ~50 ms out of every ~250 (bench/
 * subscriptions.sh, docs/benchmarks.md). Here a thread with its own connection does the copying:
 *
 * - The connection's WAL hook (after every commit, on the committing thread) counts frames; every
 *   CKPT_FRAMES new frames it wakes the thread. That costs one atomic load per commit and a mutex and a
 *   condition signal per wake.
 * - The thread runs PASSIVE checkpoints, which take no lock that writers or readers wait for. SQLite
 *   starts a WAL over from the beginning when a writer finds it fully copied; while a run leaves frames
 *   behind (commits arrived during it), the thread runs again after TAIL_MS, so that happens once writes
 *   pause.
 * - Writes that never pause long enough would let the WAL grow without bound. Once it holds
 *   RESTART_FRAMES, the PASSIVE run is followed by a RESTART checkpoint: it holds writers back only while
 *   it copies what came since (the bulk is copied already) and the readers move on, and the next write
 *   starts the WAL over. A loop then waits about a millisecond, once per ~16 MiB of WAL.
 *
 * The thread starts at the first wake, so connections that write little (storage executor workers,
 * tools) never start one. Several connections to one database each have their own; two checkpoints at
 * once are harmless (the second gets SQLITE_BUSY and tries again later). */
#include "store/sqlite/sqlite.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define CKPT_FRAMES 1024    /* ~4 MiB of 4 KiB pages */
#define RESTART_FRAMES 4096 /* ~16 MiB */
#define TAIL_MS 50
#define RESTART_BUSY_MS 200

struct aw_sq_ckpt {
    char *path;
    const aw_logger *log;
    uv_thread_t tid;
    uv_mutex_t mu;
    uv_cond_t cv;
    bool started; /* under mu */
    bool want;    /* under mu */
    bool stop;    /* under mu */
    bool failed;  /* under mu: no thread, or it could not open the database */
    atomic_int base;      /* WAL frame count when the thread was last woken (writer side) */
    atomic_uint runs;
    atomic_uint restarts;
};

aw_sq_ckpt *aw_sq_ckpt_new(const char *path, const aw_logger *log)
{
    if (!path || !*path) return NULL; /* in-memory or temporary database: no WAL */
    aw_sq_ckpt *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->path = strdup(path);
    c->log = log;
    if (!c->path || uv_mutex_init(&c->mu) != 0) {
        free(c->path);
        free(c);
        return NULL;
    }
    if (uv_cond_init(&c->cv) != 0) {
        uv_mutex_destroy(&c->mu);
        free(c->path);
        free(c);
        return NULL;
    }
    return c;
}

static int run_once(aw_sq_ckpt *c, sqlite3 *db, int mode, int *log, int *done)
{
    if (mode == SQLITE_CHECKPOINT_RESTART) atomic_fetch_add(&c->restarts, 1);
    *log = *done = 0;
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, mode, log, done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        AW_WARN(c->log, "storage: background WAL checkpoint failed: %s", sqlite3_errmsg(db));
    atomic_fetch_add(&c->runs, 1);
    return rc;
}

/* One wake: a PASSIVE run, then a RESTART when the WAL has grown large. (A PASSIVE run that copied every
 * frame it saw does not mean the WAL starts over: commits that came during the run keep it going, and
 * under steady writes one always does.) True when frames are left to copy. */
static bool checkpoint(aw_sq_ckpt *c, sqlite3 *db)
{
    int log = 0, done = 0;
    int rc = run_once(c, db, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    bool tail = rc == SQLITE_BUSY || (rc == SQLITE_OK && done < log);
    if (rc != SQLITE_BUSY && log >= RESTART_FRAMES) {
        rc = run_once(c, db, SQLITE_CHECKPOINT_RESTART, &log, &done);
        tail = rc != SQLITE_OK;
    }
    return tail;
}

static void ckpt_main(void *arg)
{
    aw_sq_ckpt *c = arg;
    sqlite3 *db = NULL;
    /* A new connection learns that the database is in WAL mode only when it first reads it; until then a
     * checkpoint does nothing (and reports -1 frames). */
    if (sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) != SQLITE_OK) {
        AW_WARN(c->log, "storage: no background checkpoints (%s); the housekeeping truncates the WAL instead",
                db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close_v2(db);
        db = NULL;
        uv_mutex_lock(&c->mu);
        c->failed = true;
        uv_mutex_unlock(&c->mu);
    } else {
        sqlite3_busy_timeout(db, RESTART_BUSY_MS); /* only RESTART waits (for writers and readers) */
    }
    bool tail = false;
    uv_mutex_lock(&c->mu);
    while (db) {
        while (!c->want && !c->stop) {
            if (!tail) {
                uv_cond_wait(&c->cv, &c->mu);
            } else if (uv_cond_timedwait(&c->cv, &c->mu, (uint64_t)TAIL_MS * 1000000u) == UV_ETIMEDOUT) {
                break;
            }
        }
        if (c->stop) break;
        c->want = false;
        uv_mutex_unlock(&c->mu);
        tail = checkpoint(c, db);
        uv_mutex_lock(&c->mu);
    }
    uv_mutex_unlock(&c->mu);
    sqlite3_close_v2(db);
}

void aw_sq_ckpt_note(aw_sq_ckpt *c, int frames)
{
    if (!c) return;
    int base = atomic_load_explicit(&c->base, memory_order_relaxed);
    if (frames < base) { /* the WAL started over */
        base = 0;
        atomic_store_explicit(&c->base, 0, memory_order_relaxed);
    }
    if (frames - base < CKPT_FRAMES) return;
    atomic_store_explicit(&c->base, frames, memory_order_relaxed);
    uv_mutex_lock(&c->mu);
    if (!c->started && !c->stop && !c->failed) {
        if (uv_thread_create(&c->tid, ckpt_main, c) == 0) {
            c->started = true;
        } else {
            c->failed = true;
            AW_WARN(c->log, "storage: cannot start the checkpoint thread; the housekeeping truncates the WAL");
        }
    }
    c->want = true;
    uv_cond_signal(&c->cv);
    uv_mutex_unlock(&c->mu);
}

bool aw_sq_ckpt_running(aw_sq_ckpt *c)
{
    if (!c) return false;
    uv_mutex_lock(&c->mu);
    bool r = c->started && !c->failed;
    uv_mutex_unlock(&c->mu);
    return r;
}

void aw_sq_ckpt_stats(aw_sq_ckpt *c, unsigned *runs, unsigned *restarts)
{
    if (runs) *runs = c ? atomic_load(&c->runs) : 0;
    if (restarts) *restarts = c ? atomic_load(&c->restarts) : 0;
}

void aw_sq_ckpt_free(aw_sq_ckpt *c)
{
    if (!c) return;
    uv_mutex_lock(&c->mu);
    c->stop = true;
    bool join = c->started;
    uv_cond_signal(&c->cv);
    uv_mutex_unlock(&c->mu);
    if (join) uv_thread_join(&c->tid);
    uv_cond_destroy(&c->cv);
    uv_mutex_destroy(&c->mu);
    free(c->path);
    free(c);
}
