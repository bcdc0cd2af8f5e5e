/* SQLite: delivery state — the outbox of jobs, the delivery cursors kept in publisher records, per-peer
 * pauses — and the subscriber's queue of out-of-order callbacks. */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite/sqlite.h"

static int outbox_add(aw_store *s, const aw_outbox_job *j)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO outbox(actor, subid, peerid, seq, kind, payload, attempts, due_ms)"
                                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, j->actor);
    aw_sq_bind_text(st, 2, j->subid ? j->subid : "");
    aw_sq_bind_text(st, 3, j->peerid);
    sqlite3_bind_int64(st, 4, j->seq);
    aw_sq_bind_text(st, 5, j->kind ? j->kind : "diff");
    aw_sq_bind_text(st, 6, j->payload);
    sqlite3_bind_int(st, 7, j->attempts);
    sqlite3_bind_int64(st, 8, j->due_ms);
    return aw_sq_exec_stmt(q, st, "outbox add");
}

static int read_job(sqlite3_stmt *st, aw_outbox_job *j)
{
    memset(j, 0, sizeof *j);
    j->id = sqlite3_column_int64(st, 0);
    j->actor = aw_sq_col_dup(st, 1);
    j->subid = aw_sq_col_dup(st, 2);
    j->peerid = aw_sq_col_dup(st, 3);
    j->seq = sqlite3_column_int64(st, 4);
    j->kind = aw_sq_col_dup(st, 5);
    j->payload = aw_sq_col_dup(st, 6);
    j->attempts = sqlite3_column_int(st, 7);
    j->due_ms = sqlite3_column_int64(st, 8);
    if (!j->actor || !j->subid || !j->peerid || !j->kind) {
        aw_outbox_job_free(j);
        return AW_ENOMEM;
    }
    return AW_OK;
}

/* Lease due jobs. Only the lowest sequence of each subscription is eligible (and only heads are ever
 * leased, so a leased job blocks the rest of its subscription as their head), so a subscription has at most
 * one request in flight, in order. Finding out whether a job is the head is one index seek on
 * outbox_sub, whatever the length of the subscription's backlog. */
static int hand_over(aw_store *s, sqlite3_stmt *st, int (*read)(sqlite3_stmt *, aw_outbox_job *), sqlite3_stmt *lease,
                     const char *owner, int64_t lease_until, aw_outbox_each_fn fn, void *ud);

static int outbox_claim(aw_store *s, const char *owner, int64_t now_ms, int64_t lease_ms, int max,
                        aw_outbox_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    int r = s->begin(s, true);
    if (r != AW_OK) return r;
    sqlite3_stmt *st = aw_sq_stmt(
        q, "UPDATE outbox SET lease_owner = ?1, lease_until = ?2 + ?3 WHERE id IN ("
           " SELECT o.id FROM outbox o WHERE o.due_ms <= ?2 AND o.lease_until <= ?2"
           " AND NOT EXISTS (SELECT 1 FROM peer_pauses pp WHERE pp.actor = o.actor AND pp.peerid = o.peerid"
           "   AND pp.until_ms > ?2)"
           /* Two NOT EXISTS, each an index range on outbox_sub (actor, subid, seq, id) that stops at the
            * first entry; one with an OR scanned every job of the subscription for each head. */
           " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.actor = o.actor AND p.subid = o.subid"
           "   AND p.seq < o.seq AND o.subid <> '')"
           " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.actor = o.actor AND p.subid = o.subid"
           "   AND p.seq = o.seq AND p.id < o.id AND o.subid <> '')"
           /* the subscription's cursor has a diff in flight: it goes first */
           " AND NOT EXISTS (SELECT 1 FROM subscriptions c WHERE c.actor = o.actor AND c.subid = o.subid"
           "   AND c.lease_owner IS NOT NULL AND c.send_due_ms > ?2 AND o.subid <> '')"
           " ORDER BY o.due_ms LIMIT ?4)"
           " RETURNING id, actor, subid, peerid, seq, kind, payload, attempts, due_ms");
    if (!st) {
        s->rollback(s);
        return AW_ESTORAGE;
    }
    aw_sq_bind_text(st, 1, owner);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, lease_ms);
    sqlite3_bind_int(st, 4, max);
    return hand_over(s, st, read_job, NULL, NULL, 0, fn, ud);
}

/* Step a claiming statement (parameters bound) inside the open write transaction and read its rows with
 * `read`; with `lease` (parameters ?1 actor, ?2 subid, ?3 owner, ?4 lease_until) lease each row by it;
 * hand the jobs to fn; then commit (or roll back on error). */
static int hand_over(aw_store *s, sqlite3_stmt *st, int (*read)(sqlite3_stmt *, aw_outbox_job *), sqlite3_stmt *lease,
                     const char *owner, int64_t lease_until, aw_outbox_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    int r = AW_OK;
    aw_outbox_job *jobs = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            aw_outbox_job *p = realloc(jobs, nc * sizeof *p);
            if (!p) {
                r = AW_ENOMEM;
                break;
            }
            jobs = p;
            cap = nc;
        }
        if ((r = read(st, &jobs[n])) != AW_OK) break;
        n++;
    }
    if (r == AW_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) r = aw_sq_status(q, rc, "outbox claim");
    sqlite3_reset(st);
    for (size_t i = 0; lease && r == AW_OK && i < n; i++) {
        aw_sq_bind_text(lease, 1, jobs[i].actor);
        aw_sq_bind_text(lease, 2, jobs[i].subid);
        aw_sq_bind_text(lease, 3, owner);
        sqlite3_bind_int64(lease, 4, lease_until);
        r = aw_sq_exec_stmt(q, lease, "lease");
        jobs[i].due_ms = lease_until;
    }
    /* The jobs are handed over inside the transaction, so that the reads each one needs (subscription,
     * trust, diff) share its lock instead of taking one each. */
    for (size_t i = 0; i < n; i++) {
        if (r == AW_OK) fn(&jobs[i], ud);
        aw_outbox_job_free(&jobs[i]);
    }
    free(jobs);
    if (r == AW_OK) r = s->commit(s);
    else s->rollback(s);
    return r;
}

static int outbox_done(aw_store *s, int64_t id)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM outbox WHERE id = ?1");
    if (!st) return AW_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    return aw_sq_exec_stmt(q, st, "outbox done");
}

static int outbox_retry(aw_store *s, int64_t id, int attempts, int64_t due_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE outbox SET attempts = ?2, due_ms = ?3, lease_owner = NULL,"
                                     " lease_until = 0 WHERE id = ?1");
    if (!st) return AW_ESTORAGE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, attempts);
    sqlite3_bind_int64(st, 3, due_ms);
    return aw_sq_exec_stmt(q, st, "outbox retry");
}

/* The earliest retry time after after_ms (index lookup), or the end of a peer's pause when that comes
 * first, so paused peers' jobs go out when the pause ends. */
static int outbox_next_due(aw_store *s, int64_t after_ms, int64_t *due_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT MIN(t) FROM (SELECT MIN(due_ms) AS t FROM outbox WHERE due_ms > ?1"
                                     " UNION ALL SELECT MIN(send_due_ms) FROM subscriptions INDEXED BY"
                                     " subscriptions_unsent WHERE " AW_SQ_UNSENT " AND send_due_ms > ?1"
                                     " UNION ALL SELECT MIN(until_ms) FROM peer_pauses WHERE until_ms > ?1)");
    if (!st) return AW_ESTORAGE;
    sqlite3_bind_int64(st, 1, after_ms);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *due_ms = sqlite3_column_int64(st, 0);
        r = AW_OK;
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "outbox next");
    sqlite3_reset(st);
    return r;
}

static int outbox_count(aw_store *s, int64_t *n)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT COUNT(*) FROM outbox");
    if (!st) return AW_ESTORAGE;
    int rc = sqlite3_step(st), r = AW_OK;
    if (rc == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
    else r = aw_sq_status(q, rc, "outbox count");
    sqlite3_reset(st);
    return r;
}

static int outbox_release_others(aw_store *s, const char *keep_prefix)
{
    aw_sq *q = aw_sq_of(s);
    static const char *const sql[] = {
        "UPDATE outbox SET lease_owner = NULL, lease_until = 0 WHERE lease_owner IS NOT NULL"
        " AND substr(lease_owner, 1, length(?1)) <> ?1",
        "UPDATE subscriptions SET lease_owner = NULL, send_due_ms = 0 WHERE lease_owner IS NOT NULL"
        " AND substr(lease_owner, 1, length(?1)) <> ?1",
    };
    int r = AW_OK;
    for (size_t i = 0; r == AW_OK && i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = aw_sq_stmt(q, sql[i]);
        if (!st) return AW_ESTORAGE;
        aw_sq_bind_text(st, 1, keep_prefix);
        r = aw_sq_exec_stmt(q, st, "outbox release");
    }
    return r;
}

static int outbox_breakers_exist(aw_store *s)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT 1 FROM attributes WHERE bucket = '_circuit_breaker_state' LIMIT 1");
    if (!st) return AW_ESTORAGE;
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) r = AW_OK;
    else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "breakers");
    sqlite3_reset(st);
    return r;
}

static int outbox_drop_before(aw_store *s, const char *actor, const char *subid, int64_t before)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM outbox WHERE actor = ?1 AND subid = ?2 AND seq < ?3"
                                     " AND kind IN ('diff', 'diff_low', 'resync')");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, before);
    return aw_sq_exec_stmt(q, st, "outbox drop");
}

/* ------------------------------------------------------------------ delivery cursors */

static int read_cursor(sqlite3_stmt *st, aw_outbox_job *j)
{
    memset(j, 0, sizeof *j);
    j->actor = aw_sq_col_dup(st, 0);
    j->subid = aw_sq_col_dup(st, 1);
    j->peerid = aw_sq_col_dup(st, 2);
    j->seq = sqlite3_column_int64(st, 3);
    j->attempts = sqlite3_column_int(st, 4);
    j->due_ms = sqlite3_column_int64(st, 5);
    j->after = j->recorded = j->seq;
    j->kind = strdup("cursor");
    if (!j->actor || !j->subid || !j->peerid || !j->kind) {
        aw_outbox_job_free(j);
        return AW_ENOMEM;
    }
    return AW_OK;
}

/* Due cursors come from the partial index subscriptions_unsent, which holds only records with diffs waiting
 * (a few entries however many subscriptions exist). They are selected first, then leased one by one by
 * primary key: an UPDATE over a row-value IN list with RETURNING cost twice as much per row. */
static int cursor_claim(aw_store *s, const char *owner, int64_t now_ms, int64_t lease_ms, int max,
                        aw_outbox_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    int r = s->begin(s, true);
    if (r != AW_OK) return r;
    sqlite3_stmt *st = aw_sq_stmt(
        q, "SELECT actor, subid, peerid, sent_seq, send_attempts, send_due_ms FROM subscriptions"
           " INDEXED BY subscriptions_unsent WHERE " AW_SQ_UNSENT " AND send_due_ms <= ?1"
           " AND NOT EXISTS (SELECT 1 FROM peer_pauses pp WHERE pp.actor = subscriptions.actor"
           "   AND pp.peerid = subscriptions.peerid AND pp.until_ms > ?1)"
           " AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.actor = subscriptions.actor"
           "   AND o.subid = subscriptions.subid)"
           " ORDER BY send_due_ms LIMIT ?2");
    sqlite3_stmt *up = aw_sq_stmt(q, "UPDATE subscriptions SET lease_owner = ?3, send_due_ms = ?4"
                                     " WHERE actor = ?1 AND subid = ?2");
    if (!st || !up) {
        s->rollback(s);
        return AW_ESTORAGE;
    }
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, max);
    return hand_over(s, st, read_cursor, up, owner, now_ms + lease_ms, fn, ud);
}

static int cursor_wake(aw_store *s, const char *actor, const char *subid, int64_t now_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE subscriptions SET send_due_ms = ?3 WHERE actor = ?1 AND subid = ?2"
                                     " AND send_due_ms IS NULL");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, now_ms);
    return aw_sq_exec_stmt(q, st, "cursor wake");
}

/* Without a new lease end the update leaves send_due_ms alone, so it touches the record's row only, not the
 * index subscriptions_unsent. */
static int cursor_sent(aw_store *s, const char *actor, const char *subid, int64_t seq, const char *owner,
                       int64_t lease_until)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = lease_until > 0
                           ? aw_sq_stmt(q, "UPDATE subscriptions SET sent_seq = MAX(sent_seq, ?3), send_attempts = 0,"
                                           " send_due_ms = ?5 WHERE actor = ?1 AND subid = ?2 AND lease_owner = ?4")
                           : aw_sq_stmt(q, "UPDATE subscriptions SET sent_seq = MAX(sent_seq, ?3), send_attempts = 0"
                                           " WHERE actor = ?1 AND subid = ?2 AND lease_owner = ?4");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, seq);
    aw_sq_bind_text(st, 4, owner);
    if (lease_until > 0) sqlite3_bind_int64(st, 5, lease_until);
    int r = aw_sq_exec_stmt(q, st, "cursor sent");
    if (r == AW_OK && sqlite3_changes(q->db) == 0) r = AW_ENOTFOUND;
    return r;
}

static int cursor_idle(aw_store *s, const char *actor, const char *subid, const char *owner)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE subscriptions SET sent_seq = MAX(sent_seq, " AW_SQ_SEQ("subscriptions") "), send_due_ms = NULL,"
                                     " send_attempts = 0, lease_owner = NULL WHERE actor = ?1"
                                     " AND subid = ?2 AND lease_owner = ?3");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    aw_sq_bind_text(st, 3, owner);
    return aw_sq_exec_stmt(q, st, "cursor idle");
}

static int cursor_retry(aw_store *s, const char *actor, const char *subid, int64_t sent, int attempts,
                        int64_t due_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE subscriptions SET send_attempts = ?3, send_due_ms = ?4,"
                                     " sent_seq = MAX(sent_seq, ?5), lease_owner = NULL WHERE actor = ?1"
                                     " AND subid = ?2"
                                     " AND callback = 0");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int(st, 3, attempts);
    sqlite3_bind_int64(st, 4, due_ms);
    sqlite3_bind_int64(st, 5, sent);
    return aw_sq_exec_stmt(q, st, "cursor retry");
}

static int cursor_skip(aw_store *s, const char *actor, const char *subid, int64_t seq)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "UPDATE subscriptions SET sent_seq = MAX(sent_seq, ?3) WHERE actor = ?1"
                                     " AND subid = ?2 AND callback = 0");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, seq);
    return aw_sq_exec_stmt(q, st, "cursor skip");
}

/* ------------------------------------------------------------------ per-peer pauses */

static int pause_set(aw_store *s, const char *actor, const char *peerid, int64_t until_ms, int64_t backoff_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO peer_pauses(actor, peerid, until_ms, backoff_ms) VALUES(?1, ?2, ?3,"
                                     " ?4) ON CONFLICT(actor, peerid) DO UPDATE SET until_ms = MAX(until_ms, ?3),"
                                     " backoff_ms = ?4");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, peerid);
    sqlite3_bind_int64(st, 3, until_ms);
    sqlite3_bind_int64(st, 4, backoff_ms);
    return aw_sq_exec_stmt(q, st, "pause set");
}

static int pause_get(aw_store *s, const char *actor, const char *peerid, int64_t *until_ms, int64_t *backoff_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT until_ms, backoff_ms FROM peer_pauses WHERE actor = ?1 AND peerid = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, peerid);
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) {
        *until_ms = sqlite3_column_int64(st, 0);
        *backoff_ms = sqlite3_column_int64(st, 1);
        r = AW_OK;
    } else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "pause get");
    sqlite3_reset(st);
    return r;
}

static int pause_clear(aw_store *s, const char *actor, const char *peerid)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM peer_pauses WHERE actor = ?1 AND peerid = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, peerid);
    return aw_sq_exec_stmt(q, st, "pause clear");
}

static int pauses_exist(aw_store *s)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT 1 FROM peer_pauses LIMIT 1");
    if (!st) return AW_ESTORAGE;
    int rc = sqlite3_step(st), r;
    if (rc == SQLITE_ROW) r = AW_OK;
    else if (rc == SQLITE_DONE) r = AW_ENOTFOUND;
    else r = aw_sq_status(q, rc, "pauses");
    sqlite3_reset(st);
    return r;
}

const aw_store_outbox_ops aw_sq_outbox_ops = {
    .drop_before = outbox_drop_before,
    .pause_set = pause_set,
    .pause_get = pause_get,
    .pause_clear = pause_clear,
    .pauses_exist = pauses_exist,
    .breakers_exist = outbox_breakers_exist,
    .release_others = outbox_release_others,
    .add = outbox_add,
    .claim = outbox_claim,
    .done = outbox_done,
    .retry = outbox_retry,
    .next_due = outbox_next_due,
    .count = outbox_count,
    .cursor_claim = cursor_claim,
    .cursor_wake = cursor_wake,
    .cursor_sent = cursor_sent,
    .cursor_idle = cursor_idle,
    .cursor_retry = cursor_retry,
    .cursor_skip = cursor_skip,
};

/* ------------------------------------------------------------------ subscriber queue */

static int pending_add(aw_store *s, const char *actor, const char *subid, int64_t seq, const char *body, int64_t now_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "INSERT INTO pending_callbacks(actor, subid, seq, body, received_ms)"
                                     " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, seq);
    aw_sq_bind_text(st, 4, body);
    sqlite3_bind_int64(st, 5, now_ms);
    return aw_sq_exec_stmt(q, st, "pending add");
}

static int pending_each(aw_store *s, const char *actor, const char *subid, aw_pending_each_fn fn, void *ud)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT seq, body, received_ms FROM pending_callbacks WHERE actor = ?1"
                                     " AND subid = ?2 ORDER BY seq");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    int rc, r = AW_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        r = fn(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2), ud);
        if (r != AW_OK) break;
    }
    if (r == AW_OK && rc != SQLITE_DONE) r = aw_sq_status(q, rc, "pending list");
    sqlite3_reset(st);
    return r;
}

static int pending_del_upto(aw_store *s, const char *actor, const char *subid, int64_t upto)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM pending_callbacks WHERE actor = ?1 AND subid = ?2"
                                     " AND (?3 < 0 OR seq <= ?3)");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, upto);
    return aw_sq_exec_stmt(q, st, "pending delete");
}

static int pending_count(aw_store *s, const char *actor, const char *subid, int64_t *n, int64_t *oldest_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "SELECT COUNT(*), MIN(received_ms) FROM pending_callbacks WHERE actor = ?1"
                                     " AND subid = ?2");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    int rc = sqlite3_step(st), r = AW_OK;
    if (rc == SQLITE_ROW) {
        *n = sqlite3_column_int64(st, 0);
        if (oldest_ms) *oldest_ms = sqlite3_column_int64(st, 1);
    } else r = aw_sq_status(q, rc, "pending count");
    sqlite3_reset(st);
    return r;
}

static int pending_del_stale(aw_store *s, const char *actor, const char *subid, int64_t above, int64_t before_ms)
{
    aw_sq *q = aw_sq_of(s);
    sqlite3_stmt *st = aw_sq_stmt(q, "DELETE FROM pending_callbacks WHERE actor = ?1 AND subid = ?2 AND seq > ?3"
                                     " AND received_ms < ?4");
    if (!st) return AW_ESTORAGE;
    aw_sq_bind_text(st, 1, actor);
    aw_sq_bind_text(st, 2, subid);
    sqlite3_bind_int64(st, 3, above);
    sqlite3_bind_int64(st, 4, before_ms);
    return aw_sq_exec_stmt(q, st, "pending stale");
}

const aw_store_pending_ops aw_sq_pending_ops = {
    .del_stale = pending_del_stale,
    .add = pending_add,
    .each = pending_each,
    .del_upto = pending_del_upto,
    .count = pending_count,
};
