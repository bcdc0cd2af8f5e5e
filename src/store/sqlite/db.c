/* SQLite backend: open, pragmas, versioned schema migrations, statement cache, transactions. */
#include "store/sqlite/sqlite.h"

#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Schema migrations: migrations[i] brings user_version from i to i+1. Append only. */
static const char *const migrations[] = {
    /* 1: actors, properties, lists, attributes, trusts */
    "CREATE TABLE actors(id TEXT PRIMARY KEY, creator TEXT NOT NULL, passphrase TEXT NOT NULL,"
    " trustee_root TEXT, created_at TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX actors_creator ON actors(creator);"
    "CREATE TABLE properties(actor TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,"
    " is_json INTEGER NOT NULL, PRIMARY KEY(actor, name)) WITHOUT ROWID;"
    "CREATE TABLE lists(actor TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
    " explanation TEXT NOT NULL DEFAULT '', count INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(actor, name)) WITHOUT ROWID;"
    "CREATE TABLE list_items(item_id INTEGER PRIMARY KEY AUTOINCREMENT, actor TEXT NOT NULL,"
    " name TEXT NOT NULL, rank INTEGER NOT NULL, value TEXT NOT NULL);"
    "CREATE UNIQUE INDEX list_items_order ON list_items(actor, name, rank);"
    "CREATE TABLE attributes(actor TEXT NOT NULL, bucket TEXT NOT NULL, name TEXT NOT NULL,"
    " data TEXT NOT NULL, ts TEXT, expires INTEGER, PRIMARY KEY(actor, bucket, name)) WITHOUT ROWID;"
    "CREATE TABLE trusts(actor TEXT NOT NULL, peerid TEXT NOT NULL, baseuri TEXT NOT NULL,"
    " type TEXT NOT NULL, relationship TEXT NOT NULL, secret TEXT NOT NULL, desc TEXT NOT NULL DEFAULT '',"
    " approved INTEGER NOT NULL, peer_approved INTEGER NOT NULL, verified INTEGER NOT NULL,"
    " verification_token TEXT NOT NULL DEFAULT '', peer_supported TEXT, created_at TEXT NOT NULL,"
    " PRIMARY KEY(actor, peerid)) WITHOUT ROWID;"
    "CREATE INDEX trusts_secret ON trusts(actor, secret);"
    "CREATE TABLE trust_perms(actor TEXT NOT NULL, peerid TEXT NOT NULL, json TEXT NOT NULL,"
    " PRIMARY KEY(actor, peerid)) WITHOUT ROWID;",
    /* 2: subscriptions (both directions), diffs, delivery outbox, subscriber queue, suspensions */
    "CREATE TABLE subscriptions(actor TEXT NOT NULL, subid TEXT NOT NULL, peerid TEXT NOT NULL,"
    " target TEXT NOT NULL, subtarget TEXT NOT NULL DEFAULT '', resource TEXT NOT NULL DEFAULT '',"
    " granularity TEXT NOT NULL, callback INTEGER NOT NULL, sequence INTEGER NOT NULL DEFAULT 0,"
    " acked_seq INTEGER NOT NULL DEFAULT 0, resync_pending INTEGER NOT NULL DEFAULT 0,"
    " created_at TEXT NOT NULL, PRIMARY KEY(actor, subid)) WITHOUT ROWID;"
    "CREATE INDEX subscriptions_peer ON subscriptions(actor, peerid);"
    "CREATE INDEX subscriptions_target ON subscriptions(actor, target, callback);"
    "CREATE TABLE diffs(actor TEXT NOT NULL, subid TEXT NOT NULL, seq INTEGER NOT NULL, ts TEXT NOT NULL,"
    " blob TEXT NOT NULL, PRIMARY KEY(actor, subid, seq)) WITHOUT ROWID;"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, actor TEXT NOT NULL, subid TEXT NOT NULL,"
    " peerid TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, payload TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0, due_ms INTEGER NOT NULL, lease_owner TEXT,"
    " lease_until INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_due ON outbox(due_ms);"
    "CREATE INDEX outbox_sub ON outbox(actor, subid, seq);"
    "CREATE TABLE pending_callbacks(actor TEXT NOT NULL, subid TEXT NOT NULL, seq INTEGER NOT NULL,"
    " body TEXT NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY(actor, subid, seq)) WITHOUT ROWID;"
    "CREATE TABLE suspensions(actor TEXT NOT NULL, target TEXT NOT NULL, subtarget TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY(actor, target, subtarget)) WITHOUT ROWID;",
    /* 3: what each subscriber accepts as Content-Encoding of callbacks (protocol.md §9.11); per-peer
     * delivery pauses after 503 (sdk-api.md §6.3), shared by every shard on the database */
    "ALTER TABLE subscriptions ADD COLUMN accept_encoding TEXT NOT NULL DEFAULT '';"
    "CREATE TABLE peer_pauses(actor TEXT NOT NULL, peerid TEXT NOT NULL, until_ms INTEGER NOT NULL,"
    " backoff_ms INTEGER NOT NULL, PRIMARY KEY(actor, peerid)) WITHOUT ROWID;",
    /* 4: the secret index covers what a Bearer check reads (trusts.c: trust_auth_by_secret) */
    "CREATE INDEX trusts_secret_auth ON trusts(actor, secret, peerid, relationship, approved);"
    "DROP INDEX trusts_secret;",
    /* 5: a publisher record is its own delivery cursor (peer/delivery.c): diffs after sent_seq wait for
     * delivery, in order; send_due_ms is set (the partial index subscriptions_unsent) while they do: the
     * time the cursor may be claimed, which a lease (lease_owner) or a retry moves ahead. The outbox keeps notices, resyncs and low-form
     * fallbacks. Diff jobs queued by an older version become the cursor's position (their attempt counts
     * start again). */
    "ALTER TABLE subscriptions ADD COLUMN sent_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE subscriptions ADD COLUMN send_due_ms INTEGER;"
    "ALTER TABLE subscriptions ADD COLUMN send_attempts INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE subscriptions ADD COLUMN lease_owner TEXT;"
    "UPDATE subscriptions SET sent_seq = COALESCE((SELECT MIN(o.seq) - 1 FROM outbox o WHERE o.actor ="
    " subscriptions.actor AND o.subid = subscriptions.subid AND o.kind = 'diff'), sequence) WHERE callback = 0;"
    "UPDATE subscriptions SET sent_seq = MAX(sent_seq, (SELECT MAX(o.seq) FROM outbox o WHERE o.actor ="
    " subscriptions.actor AND o.subid = subscriptions.subid AND o.kind IN ('resync', 'diff_low'))) WHERE"
    " callback = 0 AND EXISTS (SELECT 1 FROM outbox o WHERE o.actor = subscriptions.actor AND o.subid ="
    " subscriptions.subid AND o.kind IN ('resync', 'diff_low'));"
    "DELETE FROM outbox WHERE kind = 'diff';"
    "UPDATE subscriptions SET send_due_ms = 0 WHERE callback = 0 AND sent_seq < sequence AND granularity <> 'none';"
    "CREATE INDEX subscriptions_unsent ON subscriptions(send_due_ms) WHERE " AW_SQ_UNSENT ";",
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* Writers from other shards hold the lock for microseconds: spin briefly, then sleep in small steps.
 * SQLite's default handler sleeps whole milliseconds, which wrecks throughput under contention. */
static int busy_cb(void *ud, int n)
{
    const aw_sq *q = ud;
    if (q->nowait && q->in_begin) return 0; /* sq_begin answers AW_EBUSY */
    if (n < 50) {
        sched_yield();
        return 1;
    }
    if (n > 5000) return 0; /* about 5 s: give up, the caller answers 503 */
    usleep(n < 200 ? 50 : 1000);
    return 1;
}

int aw_sq_status(aw_sq *q, int rc, const char *what)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return AW_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        AW_WARN(q->log, "storage busy: %s", what);
        return AW_ESTORAGE_TRANSIENT;
    case SQLITE_CONSTRAINT: return AW_ECONFLICT;
    case SQLITE_NOMEM: return AW_ENOMEM;
    default:
        AW_ERROR(q->log, "storage error in %s: %s", what, sqlite3_errmsg(q->db));
        return AW_ESTORAGE;
    }
}

sqlite3_stmt *aw_sq_stmt(aw_sq *q, const char *sql)
{
    size_t mask = q->nslots - 1;
    size_t h = ((uintptr_t)sql >> 3) & mask;
    for (size_t i = 0; i < q->nslots; i++) {
        aw_sq_stmt_slot *sl = &q->slots[(h + i) & mask];
        if (sl->sql == sql) {
            sqlite3_reset(sl->stmt);
            sqlite3_clear_bindings(sl->stmt);
            return sl->stmt;
        }
        if (sl->sql == NULL) {
            sqlite3_stmt *st = NULL;
            int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
            if (rc != SQLITE_OK) {
                AW_ERROR(q->log, "prepare failed: %s: %s", sqlite3_errmsg(q->db), sql);
                return NULL;
            }
            sl->sql = sql;
            sl->stmt = st;
            return st;
        }
    }
    AW_ERROR(q->log, "statement cache full");
    return NULL;
}

int aw_sq_exec_stmt(aw_sq *q, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    int s = aw_sq_status(q, rc, what);
    sqlite3_reset(st);
    return s;
}

void aw_sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

char *aw_sq_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    return strdup((const char *)t);
}

static int sq_exec(aw_sq *q, const char *sql, const char *what)
{
    char *err = NULL;
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        AW_ERROR(q->log, "%s: %s", what, err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        return (rc & 0xff) == SQLITE_BUSY ? AW_ESTORAGE_TRANSIENT : AW_ESTORAGE;
    }
    return AW_OK;
}

static int sq_begin(aw_store *s, bool write)
{
    aw_sq *q = aw_sq_of(s);
    if (q->in_txn) return AW_EINVAL;
    sqlite3_stmt *st = aw_sq_stmt(q, q->in_group ? "SAVEPOINT aw_member" : write ? "BEGIN IMMEDIATE" : "BEGIN");
    if (!st) return AW_ESTORAGE;
    int r;
    if (q->nowait && write && !q->in_group) {
        q->in_begin = true;
        int rc = sqlite3_step(st);
        q->in_begin = false;
        sqlite3_reset(st);
        r = (rc & 0xff) == SQLITE_BUSY ? AW_EBUSY : aw_sq_status(q, rc, "begin");
    } else {
        r = aw_sq_exec_stmt(q, st, "begin");
    }
    if (r == AW_OK) q->in_txn = 1;
    return r;
}

static void sq_nowait(aw_store *s, bool on) { aw_sq_of(s)->nowait = on; }

static void sq_rollback(aw_store *s);

static int sq_commit(aw_store *s)
{
    aw_sq *q = aw_sq_of(s);
    if (q->in_group && !q->in_txn) return AW_EINVAL;
    sqlite3_stmt *st = aw_sq_stmt(q, q->in_group ? "RELEASE aw_member" : "COMMIT");
    if (!st) return AW_ESTORAGE;
    int r = aw_sq_exec_stmt(q, st, "commit");
    if (r == AW_OK) q->in_txn = 0;
    else sq_rollback(s);
    return r;
}

static void sq_rollback(aw_store *s)
{
    aw_sq *q = aw_sq_of(s);
    if (!q->in_txn) return;
    if (q->in_group) {
        /* Undo this member only; the group's other work stays. */
        sqlite3_stmt *st = aw_sq_stmt(q, "ROLLBACK TO aw_member");
        if (st) aw_sq_exec_stmt(q, st, "rollback");
        st = aw_sq_stmt(q, "RELEASE aw_member");
        if (st) aw_sq_exec_stmt(q, st, "rollback");
    } else {
        sqlite3_stmt *st = aw_sq_stmt(q, "ROLLBACK");
        if (st) aw_sq_exec_stmt(q, st, "rollback");
    }
    q->in_txn = 0;
}

static int sq_group_begin(aw_store *s)
{
    aw_sq *q = aw_sq_of(s);
    if (q->in_txn || q->in_group) return AW_EINVAL;
    sqlite3_stmt *st = aw_sq_stmt(q, "BEGIN IMMEDIATE");
    if (!st) return AW_ESTORAGE;
    int r = aw_sq_exec_stmt(q, st, "group begin");
    if (r == AW_OK) q->in_group = 1;
    return r;
}

static int sq_group_end(aw_store *s, bool commit)
{
    aw_sq *q = aw_sq_of(s);
    if (!q->in_group) return AW_EINVAL;
    if (q->in_txn) sq_rollback(s); /* a member left open is undone (a caller bug; never committed half) */
    q->in_group = 0;
    int r = AW_OK;
    if (commit) {
        sqlite3_stmt *st = aw_sq_stmt(q, "COMMIT");
        r = st ? aw_sq_exec_stmt(q, st, "group commit") : AW_ESTORAGE;
        if (r == AW_OK) return AW_OK;
    }
    /* Rolled back on request or after a failed commit (a no-op when SQLite already ended it). */
    if (sqlite3_get_autocommit(q->db) == 0) {
        sqlite3_stmt *st = aw_sq_stmt(q, "ROLLBACK");
        if (st) aw_sq_exec_stmt(q, st, "group rollback");
    }
    return commit ? r : AW_OK;
}

static void sq_close(aw_store *s)
{
    aw_sq *q = aw_sq_of(s);
    if (!q) return;
    for (size_t i = 0; i < q->nslots; i++)
        if (q->slots[i].stmt) sqlite3_finalize(q->slots[i].stmt);
    free(q->slots);
    aw_sq_ckpt_free(q->ckpt); /* before the last connection goes */
    if (q->db) {
        /* Leave the WAL in a tidy state for the next start; harmless if another shard still has it. */
        sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        sqlite3_close_v2(q->db);
    }
    free(q);
}

/* Checkpoints. SQLite's automatic checkpoints (on the committing connection) are off: with several shards
 * writing at once they kept running into each other and the WAL grew without bound (over 1 GB in 10 s
 * of actor creation on two shards). A checkpoint thread per connection copies the WAL back in the
 * background (checkpoint.c), woken by the WAL hook every ~4 MiB of commits. The housekeeping (every
 * 250 ms, on the loop) truncates the WAL itself only when that thread is missing and the WAL passes
 * 4 MiB, or the WAL still passes 256 MiB: that checkpoint waits for the other writers and readers
 * through the busy handler and stalls the loop while it copies (tens of ms per 4 MiB). */
#define WAL_INLINE_BYTES (4 << 20)
#define WAL_EMERGENCY_BYTES (256 << 20)

static int on_wal_commit(void *ud, sqlite3 *db, const char *name, int frames)
{
    (void)db;
    (void)name;
    aw_sq_ckpt_note(((aw_sq *)ud)->ckpt, frames);
    return SQLITE_OK;
}

/* Diff retention (sdk-api.md §6.8): diffs nobody acknowledged are dropped after 7 days; a subscriber that
 * comes back later recovers through a pull sync, whose gap then leads to a baseline. */
#define DIFF_RETENTION_S (7 * 24 * 3600)

static void prune_diffs(aw_sq *q)
{
    time_t t = time(NULL) - DIFF_RETENTION_S;
    struct tm tm;
    gmtime_r(&t, &tm);
    char cutoff[40];
    strftime(cutoff, sizeof cutoff, "%Y-%m-%dT%H:%M:%S", &tm);
    /* One transaction: the sequence numbers of the diffs that go stay taken (AW_SQ_SEQ). Housekeeping runs on
     * an event loop: while another connection writes it waits for the next round instead. */
    bool was = q->nowait;
    q->nowait = true;
    int r = sq_begin(&q->store, true);
    q->nowait = was;
    if (r != AW_OK) return;
    r = aw_sq_raise_seq_floors_before(q, cutoff);
    sqlite3_stmt *st = r == AW_OK ? aw_sq_stmt(q, "DELETE FROM diffs WHERE ts < ?1") : NULL;
    if (st) {
        aw_sq_bind_text(st, 1, cutoff);
        r = aw_sq_exec_stmt(q, st, "diff retention");
    }
    if (st && r == AW_OK) sq_commit(&q->store);
    else sq_rollback(&q->store);
}

static void sq_maintain(aw_store *s)
{
    aw_sq *q = aw_sq_of(s);
    if (q->in_txn || q->in_group) return;
    if (q->maintain_calls++ % 240 == 0) prune_diffs(q); /* about once a minute */
    const char *db = sqlite3_db_filename(q->db, "main");
    if (!db || !*db) return;
    char wal[4096];
    snprintf(wal, sizeof wal, "%s-wal", db);
    struct stat st;
    if (stat(wal, &st) != 0) return;
    if (st.st_size < (aw_sq_ckpt_running(q->ckpt) ? WAL_EMERGENCY_BYTES : WAL_INLINE_BYTES)) return;
    int log_frames = 0, ckpt = 0;
    int rc = sqlite3_wal_checkpoint_v2(q->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &ckpt);
    if (rc != SQLITE_OK) AW_DEBUG(q->log, "storage: WAL checkpoint deferred (%s)", sqlite3_errstr(rc));
}

static int schema_version(aw_sq *q)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return version;
}

static int migrate(aw_sq *q)
{
    /* Up to date: no write lock needed (further connections open while a writer holds it). */
    if (schema_version(q) == (int)N_MIGRATIONS) return AW_OK;
    int r = sq_exec(q, "BEGIN IMMEDIATE", "migration begin");
    if (r != AW_OK) return r;
    int version = schema_version(q);
    if (version > (int)N_MIGRATIONS) {
        AW_ERROR(q->log, "database schema version %d is newer than this build (%zu)", version,
                 (size_t)N_MIGRATIONS);
        sq_exec(q, "ROLLBACK", "migration rollback");
        return AW_ESTORAGE;
    }
    for (int v = version; v < (int)N_MIGRATIONS; v++) {
        r = sq_exec(q, migrations[v], "migration");
        if (r != AW_OK) {
            sq_exec(q, "ROLLBACK", "migration rollback");
            return r;
        }
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v + 1);
        if ((r = sq_exec(q, sql, "migration version")) != AW_OK) {
            sq_exec(q, "ROLLBACK", "migration rollback");
            return r;
        }
        AW_INFO(q->log, "storage: applied schema migration %d", v + 1);
    }
    return sq_exec(q, "COMMIT", "migration commit");
}

int aw_sq_open(const char *path, const aw_logger *log, aw_store **out)
{
    *out = NULL;
    aw_sq *q = calloc(1, sizeof *q);
    if (!q) return AW_ENOMEM;
    q->log = log;
    q->nslots = 256;
    q->slots = calloc(q->nslots, sizeof *q->slots);
    if (!q->slots) {
        free(q);
        return AW_ENOMEM;
    }
    int rc = sqlite3_open_v2(path, &q->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, aw_sq_walbuf_vfs());
    if (rc != SQLITE_OK) {
        AW_ERROR(log, "cannot open database %s: %s", path, q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(q->db);
        free(q->slots);
        free(q);
        return AW_ESTORAGE;
    }
    sqlite3_busy_handler(q->db, busy_cb, q);
    q->store.impl = q;
    q->store.actors = &aw_sq_actor_ops;
    q->store.props = &aw_sq_prop_ops;
    q->store.lists = &aw_sq_list_ops;
    q->store.attrs = &aw_sq_attr_ops;
    q->store.trusts = &aw_sq_trust_ops;
    q->store.subs = &aw_sq_sub_ops;
    q->store.outbox = &aw_sq_outbox_ops;
    q->store.pending = &aw_sq_pending_ops;
    q->store.begin = sq_begin;
    q->store.commit = sq_commit;
    q->store.rollback = sq_rollback;
    q->store.nowait = sq_nowait;
    q->store.group_begin = sq_group_begin;
    q->store.group_end = sq_group_end;
    q->store.close = sq_close;
    q->store.maintain = sq_maintain;
    q->store.blocking = false;
    /* WAL + NORMAL: an acknowledged commit survives a process kill (not a power cut). */
    int r = sq_exec(q, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                       "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-8000; PRAGMA journal_size_limit=67108864;"
                       " PRAGMA wal_autocheckpoint=0;",
                    "pragmas");
    if (r == AW_OK) r = migrate(q);
    if (r == AW_OK) {
        q->ckpt = aw_sq_ckpt_new(sqlite3_db_filename(q->db, "main"), log);
        if (q->ckpt) sqlite3_wal_hook(q->db, on_wal_commit, q); /* after wal_autocheckpoint=0, which resets it */
    }
    if (r != AW_OK) {
        sq_close(&q->store);
        return r;
    }
    *out = &q->store;
    return AW_OK;
}

int aw_store_open(const char *spec, void *logger, aw_store **out)
{
    if (!spec) return AW_EINVAL;
    if (!strncmp(spec, "sqlite:", 7)) return aw_sq_open(spec + 7, logger, out);
    return AW_EINVAL;
}
