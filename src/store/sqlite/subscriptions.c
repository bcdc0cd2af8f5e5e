/* SQLite: subscriptions (publisher records and subscriber mirrors) and their diffs. */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sqlite.h"
#include "util/time.h"

#define SUB_COLS                                                                                   \
    "actor, subid, peerid, target, subtarget, resource, granularity, callback, sequence, acked_seq," \
    " resync_pending, created_at, accept_encoding"
/* SUB_COLS, for the INSERT. Reads select these from `subscriptions s` (the sequence as AW_SQ_SEQ). */
#define SUB_COLS_S                                                                                 \
    "s.actor, s.subid, s.peerid, s.target, s.subtarget, s.resource, s.granularity, s.callback, "      \
    AW_SQ_SEQ("s") ", s.acked_seq, s.resync_pending, s.created_at, s.accept_encoding"

static int read_sub(sqlite3_stmt *st, aw_sub_rec *r)
{
    memset(r, 0, sizeof *r);
    r->actor = aw_sq_col_dup(st, 0);
    r->subid = aw_sq_col_dup(st, 1);
    r->peerid = aw_sq_col_dup(st, 2);
    r->target = aw_sq_col_dup(st, 3);
    r->subtarget = aw_sq_col_dup(st, 4);
    r->resource = aw_sq_col_dup(st, 5);
    r->granularity = aw_sq_col_dup(st, 6);
    r->callback = sqlite3_column_int(st, 7) != 0;
    r->sequence = sqlite3_column_int64(st, 8);
    r->acked_seq = sqlite3_column_int64(st, 9);
    r->resync_pending = sqlite3_column_int(st, 10) != 0;
    r->created_at = aw_sq_col_dup(st, 11);
    r->accept_encoding = aw_sq_col_dup(st, 12);
    if (!r->actor || !r->subid || !r->peerid || !r->target || !r->subtarget || !r->resource || !r->granularity ||
        !r->created_at || !r->accept_encoding) {
        aw_sub_rec_free(r);
        return AW_ENOMEM;
    }
    return AW_OK;
}

/* Step a SELECT of SUB_COLS to the end, then call fn for each record: the records are collected first
 * because callbacks may write to the store, which would disturb the running statement. */
static int collect_each(aw_sq *q, sqlite3_stmt *st, aw_sub_each_fn fn, void *ud, const char *what)
{
    aw_sub_rec *recs = NULL;
    size_t n = 0, cap = 0;
    int rc, r = AW_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            aw_sub_rec *p = realloc(recs, nc * sizeof *p);
            if (!p) {
                r = AW_ENOMEM;
                break;
            }
            recs = p;
            cap = nc;
        }
        if ((r = read_sub(st, &recs[n])) != AW_OK) break;
        n++;
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, what);
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        if (r == AW_OK) r = fn(&recs[i], ud);
        aw_sub_rec_free(&recs[i]);
    }
    free(recs);
    return r;
}

static int sub_create(aw_store *s, const aw_sub_rec *r)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO subscriptions(" SUB_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                                     " ?8, ?9, ?10, ?11, ?12, ?13)");
    if (!st) return AW_ESTORAGE;
    char now[32];
    aw_time_iso(now);
    aw_sq_bind_text(st, 1, r->actor);
    aw_sq_bind_text(st, 2, r->subid);
    aw_sq_bind_text(st, 3, r->peerid);
    aw_sq_bind_text(st, 4, r->target);
    aw_sq_bind_text(st, 5, r->subtarget ? r->subtarget : "");
    aw_sq_bind_text(st, 6, r->resource ? r->resource : "");
    aw_sq_bind_text(st, 7, r->granularity ? r->granularity : "none");
    sqlite3_bind_int(st, 8, r->callback);
    sqlite3_bind_int64(st, 9, r->sequence);
    sqlite3_bind_int64(st, 10, r->acked_seq);
    sqlite3_bind_int(st, 11, r->resync_pending);
    aw_sq_bind_text(st, 12, r->created_at ? r->created_at : now);
    aw_sq_bind_text(st, 13, r->accept_encoding ? r->accept_encoding : "");
    return aw_sq_exec_stmt(q, st, "subscription create");
}

static int sub_get(aw_store *s, const char *actor, const char *subid, aw_sub_rec *out)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT " SUB_COLS_S " FROM subscriptions s WHERE actor = ?1 AND subid = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) r = read_sub(st, out);
    else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "subscription get");
    sqlite3_reset(st);
    return r;
}

static int sub_each(aw_store *s, const char *actor, const aw_sub_filter *f, aw_sub_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT " SUB_COLS_S " FROM subscriptions s WHERE actor = ?1"
                                     " AND (?2 IS NULL OR peerid = ?2) AND (?3 IS NULL OR target = ?3)"
                                     " AND (?4 IS NULL OR subtarget = ?4) AND (?5 IS NULL OR resource = ?5)"
                                     " AND (?6 < 0 OR callback = ?6) ORDER BY callback DESC, subid");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, f ? f->peerid : NULL);
    aw_sq_bind_text(st, 3, f ? f->target : NULL);
    aw_sq_bind_text(st, 4, f ? f->subtarget : NULL);
    aw_sq_bind_text(st, 5, f ? f->resource : NULL);
    sqlite3_bind_int(st, 6, f ? f->callback : -1);
    return collect_each(q, st, fn, ud, "subscription list");
}

static const char *const sub_cascade_sql[] = {
    "DELETE FROM diffs WHERE actor = ?1 AND subid = ?2",
    "DELETE FROM outbox WHERE actor = ?1 AND subid = ?2 AND kind IN ('diff', 'diff_low', 'resync')",
    "DELETE FROM pending_callbacks WHERE actor = ?1 AND subid = ?2",
};

static int sub_del(aw_store *s, const char *actor, const char *subid)
{
    aw_sq *q = aw_sq_of(s);
    int own_txn = !q->in_txn;
    int r = own_txn ? s->begin(s, true) : AW_OK;
    if (r != AW_OK) return r;
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM subscriptions WHERE actor = ?1 AND subid = ?2");
    if (!st) r = AW_ESTORAGE;
    else {
        aw_sq_bind_text(st, 1, actor);
        aw_sq_bind_text(st, 2, subid);
        r = aw_sq_exec_stmt(q, st, "subscription delete");
        if (r == AW_OK && sqlite3_changes(q->db) == 0) r = AW_ENOTFOUND;
    }
    for (size_t i = 0; r == AW_OK && i < sizeof sub_cascade_sql / sizeof sub_cascade_sql[0]; i++) {
        st = aw_sq_stmt(q, sub_cascade_sql[i]);
        if (!st) {
            r = AW_ESTORAGE;
            break;
        }
        aw_sq_bind_text(st, 1, actor);
        aw_sq_bind_text(st, 2, subid);
        r = aw_sq_exec_stmt(q, st, "subscription delete cascade");
    }
    if (!own_txn) return r;
    if (r != AW_OK) {
        s->rollback(s);
        return r;
    }
    return s->commit(s);
}

static int sub_next_seq(aw_store *s, const char *actor, const char *subid, int64_t *seq)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE subscriptions SET sequence = " AW_SQ_SEQ("subscriptions") " + 1"
                                     " WHERE actor = ?1 AND subid = ?2 RETURNING sequence");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        r = AW_OK;
        rc = sqlite3_step(st); /* finish the statement so the update is complete */
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "subscription sequence");
    sqlite3_reset(st);
    return r;
}

/* The caller read `prev` (AW_SQ_SEQ) in this write transaction and stores its diff as prev + 1 next: that
 * insert takes the number, so nothing is written here unless the diff starts the cursor's wait. */
static int sub_next_seq_after(aw_store *s, const char *actor, const char *subid, int64_t prev, int64_t wake_ms,
                              int64_t *seq)
{
    *seq = prev + 1;
    return wake_ms > 0 ? s->outbox->cursor_wake(s, actor, subid, wake_ms) : AW_OK;
}

static int sub_set_state(aw_store *s, const char *actor, const char *subid, int64_t sequence, int64_t acked_seq,
                         int resync_pending)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE subscriptions SET sequence = CASE WHEN ?3 < 0 THEN sequence ELSE ?3 END,"
                                     " acked_seq = CASE WHEN ?4 < 0 THEN acked_seq ELSE ?4 END,"
                                     " resync_pending = CASE WHEN ?5 < 0 THEN resync_pending ELSE ?5 END"
                                     " WHERE actor = ?1 AND subid = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, sequence);
    sqlite3_bind_int64(st, 4, acked_seq);
    sqlite3_bind_int(st, 5, resync_pending);
    int r = aw_sq_exec_stmt(q, st, "subscription state");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) return AW_ENOTFOUND;
    return r;
}

static int diff_add(aw_store *s, const char *actor, const char *subid, int64_t seq, const char *ts, const char *blob)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO diffs(actor, subid, seq, ts, blob) VALUES(?1, ?2, ?3, ?4, ?5)");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, seq);
    aw_sq_bind_text(st, 4, ts);
    aw_sq_bind_text(st, 5, blob);
    return aw_sq_exec_stmt(q, st, "diff add");
}

static int diff_each(aw_store *s, const char *actor, const char *subid, int64_t after, aw_diff_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT seq, ts, blob FROM diffs WHERE actor = ?1 AND subid = ?2 AND seq > ?3"
                                     " ORDER BY seq");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, after);
    int rc, r = AW_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r = fn(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2), ud);
        if (r != AW_OK) break;
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, "diff list");
    sqlite3_reset(st);
    return r;
}

/* One diff by (actor ?1, subid ?2, ?3): `sql` selects seq, ts, blob of at most one row. */
static int diff_one(aw_store *s, const char *sql, const char *actor, const char *subid, int64_t n, int64_t *seq,
                    char **ts, char **blob)
{
    aw_sq *q = aw_sq_of(s);
    *ts = *blob = NULL;
    sqlite3_stmt *st = aw_sq_stmt(q, sql);
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, n);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        if (seq) *seq = sqlite3_column_int64(st, 0);
        *ts = aw_sq_col_dup(st, 1);
        *blob = aw_sq_col_dup(st, 2);
        r = *ts && *blob ? AW_OK : AW_ENOMEM;
        if (r != AW_OK) {
            free(*ts);
            free(*blob);
            *ts = *blob = NULL;
        }
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "diff get");
    sqlite3_reset(st);
    return r;
}

static int diff_get(aw_store *s, const char *actor, const char *subid, int64_t seq, char **ts, char **blob)
{
    return diff_one(s, "SELECT seq, ts, blob FROM diffs WHERE actor = ?1 AND subid = ?2 AND seq = ?3", actor, subid,
                    seq, NULL, ts, blob);
}

static int diff_first_after(aw_store *s, const char *actor, const char *subid, int64_t after, int64_t *seq,
                            char **ts, char **blob)
{
    return diff_one(s, "SELECT seq, ts, blob FROM diffs WHERE actor = ?1 AND subid = ?2 AND seq > ?3 ORDER BY seq"
                       " LIMIT 1", actor, subid, after, seq, ts, blob);
}

static int diff_newest(aw_store *s, const char *actor, const char *subid, int64_t *seq, char **ts, char **blob)
{
    return diff_one(s, "SELECT seq, ts, blob FROM diffs WHERE actor = ?1 AND subid = ?2 AND seq > ?3 ORDER BY seq DESC"
                       " LIMIT 1", actor, subid, 0, seq, ts, blob);
}

int aw_sq_raise_seq_floor(aw_sq *q, const char *actor, const char *subid)
{
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE subscriptions SET sequence = " AW_SQ_SEQ("subscriptions")
                                     " WHERE actor = ?1 AND subid = ?2 AND callback = 0");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    return aw_sq_exec_stmt(q, st, "sequence floor");
}

int aw_sq_raise_seq_floors_before(aw_sq *q, const char *before)
{
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE subscriptions SET sequence = " AW_SQ_SEQ("subscriptions")
                                     " WHERE callback = 0 AND EXISTS (SELECT 1 FROM diffs d WHERE d.actor ="
                                     " subscriptions.actor AND d.subid = subscriptions.subid AND d.ts < ?1)");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, before);
    return aw_sq_exec_stmt(q, st, "sequence floors");
}

static int diff_clear(aw_store *s, const char *actor, const char *subid, int64_t upto)
{
    aw_sq *q = aw_sq_of(s);
    int r = aw_sq_raise_seq_floor(q, actor, subid); /* the newest diff may go: its number stays taken */
    if (r != AW_OK) return r;
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM diffs WHERE actor = ?1 AND subid = ?2 AND (?3 <= 0 OR seq <= ?3)");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, upto);
    return aw_sq_exec_stmt(q, st, "diff clear");
}

/* The count is bounded by newest - oldest + 1 (sequence numbers are unique), so under the cap one index
 * lookup decides. Above it the exact cut is the (cap+1)-th newest diff, found on the same index. */
static int diff_trim(aw_store *s, const char *actor, const char *subid, int64_t newest, int64_t cap, bool *flagged)
{
    aw_sq *q = aw_sq_of(s);
    *flagged = false;
    if (cap <= 0) return AW_OK;
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT MIN(seq) FROM diffs WHERE actor = ?1 AND subid = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    int rc = sqlite3_step(st);
    int64_t oldest = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? sqlite3_column_int64(st, 0) : -1;
    int r = rc == SQLITE_ROW ? AW_OK : aw_sq_status(q, rc, "diff trim");
    sqlite3_reset(st);
    if (r != AW_OK || oldest < 0 || newest - oldest + 1 <= cap) return r;
    st = aw_sq_stmt(q, "SELECT seq FROM diffs WHERE actor = ?1 AND subid = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?3");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, cap);
    rc = sqlite3_step(st);
    int64_t cut = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    r = rc == SQLITE_ROW || rc == SQLITE_DONE ? AW_OK : aw_sq_status(q, rc, "diff trim");
    sqlite3_reset(st);
    if (r != AW_OK || cut < 0) return r; /* holes in the numbering: still within the cap */
    st = aw_sq_stmt(q, "DELETE FROM diffs WHERE actor = ?1 AND subid = ?2 AND seq <= ?3");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, cut);
    if ((r = aw_sq_exec_stmt(q, st, "diff trim")) != AW_OK) return r;
    /* Pruned diffs the cursor has not sent (or a queued low-form job of one) cannot be sent any more: the
     * subscriber gets a resync instead, when the cursor (which may hold a 429 pause) or that job is next
     * claimed. */
    st = aw_sq_stmt(q, "SELECT 1 FROM subscriptions WHERE actor = ?1 AND subid = ?2 AND callback = 0"
                       " AND granularity <> 'none' AND sent_seq < ?3 AND sent_seq < ?4 UNION ALL SELECT 1 FROM outbox WHERE actor = ?1 AND subid = ?2"
                       " AND seq <= ?3 AND kind IN ('diff', 'diff_low') LIMIT 1");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, cut);
    sqlite3_bind_int64(st, 4, newest); /* kept, so it is the record's sequence */
    rc = sqlite3_step(st);
    r = rc == SQLITE_ROW || rc == SQLITE_DONE ? AW_OK : aw_sq_status(q, rc, "diff trim jobs");
    sqlite3_reset(st);
    if (r != AW_OK || rc != SQLITE_ROW) return r;
    *flagged = true;
    st = aw_sq_stmt(q, "UPDATE subscriptions SET resync_pending = 1 WHERE actor = ?1 AND subid = ?2 AND callback = 0");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    return aw_sq_exec_stmt(q, st, "diff trim flag");
}

static int sub_each_attention(aw_store *s, int64_t stale_ms, bool all, const char *after_actor, const char *after_subid,
                              aw_sub_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT " SUB_COLS_S " FROM subscriptions s WHERE (actor, subid) > (?3, ?4) AND"
                                     " callback = 1 AND (?2 OR sequence > acked_seq OR resync_pending = 1 OR EXISTS"
                                     " (SELECT 1 FROM pending_callbacks p WHERE p.actor = s.actor AND p.subid = s.subid"
                                     " AND p.received_ms <= ?1)) ORDER BY actor, subid LIMIT 1000");
    if (!st) return AW_ESTORAGE;
    sqlite3_bind_int64(st, 1, stale_ms);
    sqlite3_bind_int(st, 2, all ? 1 : 0);
    aw_sq_bind_text(st, 3, after_actor ? after_actor : "");
    aw_sq_bind_text(st, 4, after_subid ? after_subid : "");
    return collect_each(q, st, fn, ud, "subscription attention");
}

static int sub_suspend(aw_store *s, const char *actor, const char *target, const char *subtarget)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO suspensions(actor, target, subtarget) VALUES(?1, ?2, ?3)"
                                     " ON CONFLICT DO NOTHING");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, target);
    aw_sq_bind_text(st, 3, subtarget ? subtarget : "");
    return aw_sq_exec_stmt(q, st, "suspend");
}

static int sub_unsuspend(aw_store *s, const char *actor, const char *target, const char *subtarget)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM suspensions WHERE actor = ?1 AND target = ?2 AND subtarget = ?3");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, target);
    aw_sq_bind_text(st, 3, subtarget ? subtarget : "");
    int r = aw_sq_exec_stmt(q, st, "unsuspend");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) return AW_ENOTFOUND;
    return r;
}

static int sub_is_suspended(aw_store *s, const char *actor, const char *target, const char *subtarget)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT 1 FROM suspensions WHERE actor = ?1 AND target = ?2 AND"
                                     " (subtarget = '' OR subtarget = ?3) LIMIT 1");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, target);
    aw_sq_bind_text(st, 3, subtarget ? subtarget : "");
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) r = AW_OK;
    else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "is suspended");
    sqlite3_reset(st);
    return r;
}

/* What change registration reads of each record (each_for_change): the rest of the record stays NULL. */
#define FOR_CHANGE_COLS                                                                                  \
    "s.subid, s.subtarget, s.resource, s.granularity, " AW_SQ_SEQ("s") ", s.send_due_ms IS NOT NULL,"  \
    " t.relationship, t.approved"

static int sub_each_for_change(aw_store *s, const char *actor, const char *target,
                               int (*fn)(const aw_sub_rec *r, const char *relationship, bool approved,
                                         const char *override_json, void *ud),
                               void *ud)
{
    aw_sq *q = aw_sq_of(s);
    /* Most actors have no per-trust permission override: then one lookup here saves one per subscription. */
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT 1 FROM trust_perms WHERE actor = ?1 LIMIT 1");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return aw_sq_status(q, rc, "subscriptions for change");
    st = rc == SQLITE_ROW
             ? aw_sq_stmt(q, "SELECT " FOR_CHANGE_COLS ", p.json FROM subscriptions s"
                             " LEFT JOIN trusts t ON t.actor = s.actor AND t.peerid = s.peerid"
                             " LEFT JOIN trust_perms p ON p.actor = s.actor AND p.peerid = s.peerid"
                             " WHERE s.actor = ?1 AND s.target = ?2 AND s.callback = 0 ORDER BY s.subid")
             : aw_sq_stmt(q, "SELECT " FOR_CHANGE_COLS ", NULL FROM subscriptions s"
                             " LEFT JOIN trusts t ON t.actor = s.actor AND t.peerid = s.peerid"
                             " WHERE s.actor = ?1 AND s.target = ?2 AND s.callback = 0 ORDER BY s.subid");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, target);
    /* Collected first: the callback writes (sequence, diff, outbox) while we would still be stepping. */
    typedef struct row {
        aw_sub_rec rec;
        char *rel, *ovr;
        bool approved;
    } row;
    row *rows = NULL;
    size_t n = 0, cap = 0;
    int r = AW_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            row *p = realloc(rows, nc * sizeof *p);
            if (!p) {
                r = AW_ENOMEM;
                break;
            }
            rows = p;
            cap = nc;
        }
        row *w = &rows[n];
        memset(w, 0, sizeof *w);
        w->rec.subid = aw_sq_col_dup(st, 0);
        w->rec.subtarget = aw_sq_col_dup(st, 1);
        w->rec.resource = aw_sq_col_dup(st, 2);
        w->rec.granularity = aw_sq_col_dup(st, 3);
        w->rec.sequence = sqlite3_column_int64(st, 4);
        w->rec.send_due = sqlite3_column_int(st, 5) != 0;
        w->rel = aw_sq_col_dup(st, 6);
        w->approved = sqlite3_column_int(st, 7) != 0;
        w->ovr = aw_sq_col_dup(st, 8);
        n++;
        if (!w->rec.subid || !w->rec.subtarget || !w->rec.resource || !w->rec.granularity) {
            r = AW_ENOMEM;
            break;
        }
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, "subscriptions for change");
    sqlite3_reset(st);
    for (size_t i = 0; i < n; i++) {
        if (r == AW_OK) r = fn(&rows[i].rec, rows[i].rel, rows[i].approved, rows[i].ovr, ud);
        aw_sub_rec_free(&rows[i].rec);
        free(rows[i].rel);
        free(rows[i].ovr);
    }
    free(rows);
    return r;
}

/* One row of a delivery view: the record (SUB_COLS_S), the trust's baseuri, secret, peer_supported (columns
 * 13-15, NULL when there is no trust), the diff's ts and blob (16-17, NULL when there is no diff). */
static int view_row(sqlite3_stmt *st, aw_sub_rec *sub, aw_trust_rec *t, char **ts, char **blob)
{
    int r = read_sub(st, sub);
    if (r == AW_OK && sqlite3_column_type(st, 13) != SQLITE_NULL) {
        t->baseuri = aw_sq_col_dup(st, 13);
        t->secret = aw_sq_col_dup(st, 14);
        t->peer_supported = aw_sq_col_dup(st, 15);
        if (!t->baseuri || !t->secret) r = AW_ENOMEM;
    }
    if (r == AW_OK && sqlite3_column_type(st, 17) != SQLITE_NULL) {
        *ts = aw_sq_col_dup(st, 16);
        *blob = aw_sq_col_dup(st, 17);
        if (!*ts || !*blob) r = AW_ENOMEM;
    }
    if (r != AW_OK) {
        aw_trust_rec_free(t);
        free(*ts);
        free(*blob);
        *ts = *blob = NULL;
        if (sub->actor) aw_sub_rec_free(sub);
    }
    return r;
}

static int delivery_view(aw_store *s, const char *actor, const char *subid, const char *peerid, int64_t seq,
                         aw_sub_rec *sub, aw_trust_rec *t, char **ts, char **blob)
{
    aw_sq *q = aw_sq_of(s);
    memset(t, 0, sizeof *t);
    *ts = *blob = NULL;
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT " SUB_COLS_S ", t.baseuri, t.secret, t.peer_supported,"
                                     " d.ts, d.blob FROM subscriptions s"
                                     " LEFT JOIN trusts t ON t.actor = s.actor AND t.peerid = ?3"
                                     " LEFT JOIN diffs d ON d.actor = s.actor AND d.subid = s.subid AND d.seq = ?4"
                                     " WHERE s.actor = ?1 AND s.subid = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    aw_sq_bind_text(st, 3, peerid);
    sqlite3_bind_int64(st, 4, seq);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) r = view_row(st, sub, t, ts, blob);
    else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "delivery view");
    sqlite3_reset(st);
    return r;
}

static int delivery_view_next(aw_store *s, const char *actor, const char *subid, const char *peerid, int64_t after,
                              aw_sub_rec *sub, aw_trust_rec *t, int64_t *seq, char **ts, char **blob)
{
    aw_sq *q = aw_sq_of(s);
    memset(t, 0, sizeof *t);
    *ts = *blob = NULL;
    *seq = 0;
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT " SUB_COLS_S ", t.baseuri, t.secret, t.peer_supported,"
                                     " d.ts, d.blob, d.seq, s.sent_seq FROM subscriptions s"
                                     " LEFT JOIN trusts t ON t.actor = s.actor AND t.peerid = ?3"
                                     " LEFT JOIN diffs d ON d.actor = s.actor AND d.subid = s.subid AND d.seq ="
                                     "  (SELECT x.seq FROM diffs x WHERE x.actor = ?1 AND x.subid = ?2 AND x.seq > ?4"
                                     "   ORDER BY x.seq LIMIT 1)"
                                     " WHERE s.actor = ?1 AND s.subid = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    aw_sq_bind_text(st, 3, peerid);
    sqlite3_bind_int64(st, 4, after);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        r = view_row(st, sub, t, ts, blob);
        if (r == AW_OK && *blob) *seq = sqlite3_column_int64(st, 18);
        if (r == AW_OK) sub->sent_seq = sqlite3_column_int64(st, 19);
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "delivery view");
    sqlite3_reset(st);
    return r;
}

const aw_store_sub_ops aw_sq_sub_ops = {
    .delivery_view_next = delivery_view_next,
    .delivery_view = delivery_view,
    .each_for_change = sub_each_for_change,
    .suspend = sub_suspend,
    .unsuspend = sub_unsuspend,
    .is_suspended = sub_is_suspended,
    .each_attention = sub_each_attention,
    .create = sub_create,
    .get = sub_get,
    .each = sub_each,
    .del = sub_del,
    .next_seq = sub_next_seq,
    .next_seq_after = sub_next_seq_after,
    .set_state = sub_set_state,
    .diff_add = diff_add,
    .diff_each = diff_each,
    .diff_get = diff_get,
    .diff_first_after = diff_first_after,
    .diff_newest = diff_newest,
    .diff_clear = diff_clear,
    .diff_trim = diff_trim,
};
