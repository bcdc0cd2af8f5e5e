/* Unit tests for the SQLite store's subscription sequences and delivery state (src/store/sqlite/outbox.c,
 * subscriptions.c): the diff cap, per-peer pauses, sequence numbers, delivery cursors. */
#include <time.h>

#include "store_fixture.h"

/* ------------------------------------------------------------------ diff cap, per-peer pauses */
static int64_t sub_resync_flag(aw_store *s, const char *actor, const char *subid)
{
    aw_sub_rec r;
    assert_int_equal(s->subs->get(s, actor, subid, &r), AW_OK);
    int64_t v = r.resync_pending;
    assert_string_equal(r.accept_encoding, "gzip");
    aw_sub_rec_free(&r);
    return v;
}

static int64_t sub_sequence(aw_store *s, const char *actor, const char *subid)
{
    aw_sub_rec r;
    assert_int_equal(s->subs->get(s, actor, subid, &r), AW_OK);
    int64_t v = r.sequence;
    aw_sub_rec_free(&r);
    return v;
}

static int count_claimed(const aw_outbox_job *j, void *ud)
{
    (*(int *)ud)++;
    return AW_OK;
}

/* Actor A with a friend trust to peer1 and the publisher record sub1 on its properties (high). */
static void mk_publisher(aw_store *s, const char *A, const char *accept_encoding)
{
    mk_actor(s, A, "c");
    mk_trust(s, A, "peer1", "friend", "urn:x", "secret-1");
    aw_sub_rec rec = {.actor = (char *)A, .subid = (char *)"sub1", .peerid = (char *)"peer1",
                      .target = (char *)"properties", .granularity = (char *)"high",
                      .accept_encoding = (char *)accept_encoding};
    assert_int_equal(s->subs->create(s, &rec), AW_OK);
}

static void diff_cap_and_pauses(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    const char *A = "capaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    mk_publisher(s, A, "gzip");
    sqlite3 *db = raw_open(f);
    bool flagged = true;
    raw_exec(db, "UPDATE subscriptions SET sent_seq = 1000"); /* all delivered */
    /* Under the cap nothing goes; diffs nobody still has to deliver are pruned without a flag. */
    for (int64_t seq = 1; seq <= 7; seq++) {
        assert_int_equal(s->subs->diff_add(s, A, "sub1", seq, "2026-01-01T00:00:00", "{}"), AW_OK);
        if (seq == 7) {
            aw_outbox_job j = {.actor = (char *)A, .subid = (char *)"sub1", .peerid = (char *)"peer1", .seq = 7,
                               .kind = (char *)"diff", .due_ms = 0};
            assert_int_equal(s->outbox->add(s, &j), AW_OK);
        }
        assert_int_equal(s->subs->diff_trim(s, A, "sub1", seq, 5, &flagged), AW_OK);
        assert_false(flagged);
    }
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM diffs WHERE actor = ?1", A), 5);
    assert_int_equal(raw_int(db, "SELECT MIN(seq) FROM diffs WHERE actor = ?1", A), 3);
    assert_int_equal(sub_resync_flag(s, A, "sub1"), 0);
    /* Pruning the diff of a queued job flags the subscription; the job stays for delivery to turn into a resync. */
    for (int64_t seq = 8; seq <= 12; seq++) {
        assert_int_equal(s->subs->diff_add(s, A, "sub1", seq, "2026-01-01T00:00:00", "{}"), AW_OK);
        assert_int_equal(s->subs->diff_trim(s, A, "sub1", seq, 5, &flagged), AW_OK);
        assert_int_equal(flagged, seq == 12);
    }
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM diffs WHERE actor = ?1", A), 5);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM outbox WHERE actor = ?1", A), 1);
    assert_int_equal(sub_resync_flag(s, A, "sub1"), 1);
    /* A paused peer's job is not claimed, and next_due says when the pause ends. */
    int64_t due = 0, until = 0, backoff = 0;
    assert_int_equal(s->outbox->pauses_exist(s), AW_ENOTFOUND);
    assert_int_equal(s->outbox->pause_set(s, A, "peer1", 5000, 1000), AW_OK);
    assert_int_equal(s->outbox->pause_set(s, A, "peer1", 4000, 2000), AW_OK); /* never shortens */
    assert_int_equal(s->outbox->pause_get(s, A, "peer1", &until, &backoff), AW_OK);
    assert_int_equal(until, 5000);
    assert_int_equal(backoff, 2000);
    assert_int_equal(s->outbox->pauses_exist(s), AW_OK);
    assert_int_equal(s->outbox->next_due(s, 0, &due), AW_OK);
    assert_int_equal(due, 5000);
    int n = 0;
    assert_int_equal(s->outbox->claim(s, "t-1", 4999, 1000, 10, count_claimed, &n), AW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(s->outbox->claim(s, "t-1", 5000, 1000, 10, count_claimed, &n), AW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(s->outbox->pause_clear(s, A, "peer1"), AW_OK);
    assert_int_equal(s->outbox->pause_get(s, A, "peer1", &until, &backoff), AW_ENOTFOUND);
    /* A resync replaces the older jobs of its subscription. */
    assert_int_equal(s->outbox->drop_before(s, A, "sub1", 13), AW_OK);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM outbox WHERE actor = ?1", A), 0);
    /* Deleting the trust removes a pause with everything else of that peer. */
    assert_int_equal(s->outbox->pause_set(s, A, "peer1", 5000, 1000), AW_OK);
    assert_int_equal(s->trusts->del(s, A, "peer1"), AW_OK);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM peer_pauses WHERE actor = ?1", A), 0);
    sqlite3_close(db);
}

/* A publisher record's sequence is its newest diff's number or the stored floor: a diff takes its number
 * by being stored (next_seq_after writes nothing), next_seq stores the floor, and deleting diffs keeps it. */
static void sequence_after(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    const char *A = "seqaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    mk_actor(s, A, "c");
    aw_sub_rec rec = {.actor = (char *)A, .subid = (char *)"s1", .peerid = (char *)"p1", .target = (char *)"properties",
                      .granularity = (char *)"high", .accept_encoding = (char *)""};
    assert_int_equal(s->subs->create(s, &rec), AW_OK);
    sqlite3 *db = raw_open(f);
    int64_t seq = 0;
    assert_int_equal(s->subs->next_seq_after(s, A, "s1", 0, 0, &seq), AW_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(s->subs->diff_add(s, A, "s1", seq, "2026-01-01T00:00:00", "{}"), AW_OK);
    assert_int_equal(sub_sequence(s, A, "s1"), 1);
    assert_int_equal(raw_int(db, "SELECT sequence FROM subscriptions WHERE actor = ?1", A), 0); /* no row write */
    assert_int_equal(s->subs->next_seq(s, A, "s1", &seq), AW_OK); /* a resync's number: stored */
    assert_int_equal(seq, 2);
    assert_int_equal(sub_sequence(s, A, "s1"), 2);
    assert_int_equal(s->subs->next_seq_after(s, A, "s1", 2, 1234, &seq), AW_OK); /* also starts the wait */
    assert_int_equal(seq, 3);
    assert_int_equal(raw_int(db, "SELECT send_due_ms FROM subscriptions WHERE actor = ?1", A), 1234);
    assert_int_equal(s->subs->diff_add(s, A, "s1", seq, "2026-01-01T00:00:00", "{}"), AW_OK);
    assert_int_equal(s->subs->diff_add(s, A, "s1", seq, "2026-01-01T00:00:00", "{}"), AW_ECONFLICT); /* taken */
    assert_int_equal(sub_sequence(s, A, "s1"), 3);
    /* Acknowledging every diff keeps the number: the next is 4, not 1 or 3. */
    assert_int_equal(s->subs->diff_clear(s, A, "s1", 0), AW_OK);
    assert_int_equal(raw_int(db, "SELECT COUNT(*) FROM diffs WHERE actor = ?1", A), 0);
    assert_int_equal(sub_sequence(s, A, "s1"), 3);
    assert_int_equal(s->subs->next_seq(s, A, "s1", &seq), AW_OK);
    assert_int_equal(seq, 4);
    sqlite3_close(db);
}

/* Delivery cursors: a change wakes the publisher record; a claim leases it; a recorded delivery moves
 * sent_seq and keeps the lease; with no diff left the wait ends; outbox jobs of the subscription and the
 * cursor never go out at the same time; retries and dead owners' leases as for outbox jobs. */
typedef struct claimed {
    int n;
    int64_t seq;
    char kind[16];
} claimed;

static int note_claimed(const aw_outbox_job *j, void *ud)
{
    claimed *c = ud;
    c->n++;
    c->seq = j->seq;
    snprintf(c->kind, sizeof c->kind, "%s", j->kind);
    return AW_OK;
}

static void add_diff(aw_store *s, const char *actor, const char *subid, int64_t now)
{
    int64_t seq = 0;
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->subs->next_seq(s, actor, subid, &seq), AW_OK);
    assert_int_equal(s->subs->diff_add(s, actor, subid, seq, "2026-01-01T00:00:00", "{\"k\":1}"), AW_OK);
    assert_int_equal(s->outbox->cursor_wake(s, actor, subid, now), AW_OK);
    assert_int_equal(s->commit(s), AW_OK);
}

static void delivery_cursor(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    const char *A = "curaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    mk_publisher(s, A, "");
    sqlite3 *db = raw_open(f);
    claimed c = {0};
    int64_t due = 0;
    /* nothing waits yet */
    assert_int_equal(s->outbox->cursor_claim(s, "t-1", 100, 1000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 0);
    int64_t newest = 0;
    char *nts = NULL, *nblob = NULL;
    assert_int_equal(s->subs->diff_newest(s, A, "sub1", &newest, &nts, &nblob), AW_ENOTFOUND);
    for (int i = 0; i < 3; i++) add_diff(s, A, "sub1", 100);
    assert_int_equal(s->subs->diff_newest(s, A, "sub1", &newest, &nts, &nblob), AW_OK);
    assert_int_equal(newest, 3);
    assert_string_equal(nblob, "{\"k\":1}");
    free(nts);
    free(nblob);
    assert_int_equal(s->outbox->next_due(s, 50, &due), AW_OK);
    assert_int_equal(due, 100);
    assert_int_equal(s->outbox->cursor_claim(s, "t-1", 100, 1000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.seq, 0);
    assert_string_equal(c.kind, "cursor");
    c.n = 0;
    assert_int_equal(s->outbox->cursor_claim(s, "t-2", 100, 1000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 0); /* leased */
    /* an outbox job of the subscription waits while the cursor is leased, and blocks the cursor */
    aw_outbox_job j = {.actor = (char *)A, .subid = (char *)"sub1", .peerid = (char *)"peer1", .seq = 3,
                       .kind = (char *)"resync", .due_ms = 0};
    assert_int_equal(s->outbox->add(s, &j), AW_OK);
    assert_int_equal(s->outbox->claim(s, "t-2", 100, 1000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 0);
    /* delivered diff 1: sent_seq moves, the lease stays with its owner (extended: send_due_ms is its end) */
    assert_int_equal(s->outbox->cursor_sent(s, A, "sub1", 1, "t-2", 5000), AW_ENOTFOUND);
    assert_int_equal(s->outbox->cursor_sent(s, A, "sub1", 1, "t-1", 5000), AW_OK);
    assert_int_equal(raw_int(db, "SELECT sent_seq FROM subscriptions WHERE actor = ?1", A), 1);
    assert_int_equal(raw_int(db, "SELECT send_due_ms FROM subscriptions WHERE actor = ?1", A), 5000);
    aw_sub_rec sub;
    aw_trust_rec t;
    char *ts = NULL, *blob = NULL;
    int64_t seq = 0;
    assert_int_equal(s->subs->delivery_view_next(s, A, "sub1", "peer1", 1, &sub, &t, &seq, &ts, &blob), AW_OK);
    assert_int_equal(seq, 2);
    assert_string_equal(blob, "{\"k\":1}");
    assert_non_null(t.baseuri);
    assert_int_equal(sub.sent_seq, 1);
    free(ts);
    free(blob);
    aw_sub_rec_free(&sub);
    aw_trust_rec_free(&t);
    /* the cursor released: the job goes first, and the cursor waits for it */
    assert_int_equal(s->outbox->cursor_retry(s, A, "sub1", 0, 0, 100), AW_OK);
    assert_int_equal(s->outbox->cursor_claim(s, "t-1", 100, 1000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(s->outbox->claim(s, "t-2", 100, 1000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.kind, "resync");
    assert_int_equal(s->outbox->drop_before(s, A, "sub1", 4), AW_OK);
    /* acknowledged meanwhile: no diff after 1 is left, and the wait ends with sent_seq = sequence */
    assert_int_equal(s->subs->diff_clear(s, A, "sub1", 3), AW_OK);
    c.n = 0;
    assert_int_equal(s->outbox->cursor_claim(s, "t-1", 100, 1000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.seq, 1);
    assert_int_equal(s->subs->delivery_view_next(s, A, "sub1", "peer1", 1, &sub, &t, &seq, &ts, &blob), AW_OK);
    assert_int_equal(seq, 0);
    assert_null(blob);
    aw_sub_rec_free(&sub);
    aw_trust_rec_free(&t);
    free(ts);
    assert_int_equal(s->outbox->cursor_idle(s, A, "sub1", "t-1"), AW_OK);
    assert_int_equal(raw_int(db, "SELECT sent_seq FROM subscriptions WHERE actor = ?1", A), 3);
    assert_int_equal(raw_int(db, "SELECT send_due_ms IS NULL AND lease_owner IS NULL FROM subscriptions"
                                 " WHERE actor = ?1", A), 1);
    assert_int_equal(s->outbox->next_due(s, 50, &due), AW_ENOTFOUND);
    /* a new diff wakes it again (the sequence step of a change does it); a dead owner's lease is released
     * at start */
    assert_int_equal(s->subs->next_seq_after(s, A, "sub1", 3, 200, &seq), AW_OK);
    assert_int_equal(seq, 4);
    assert_int_equal(s->subs->diff_add(s, A, "sub1", seq, "2026-01-01T00:00:00", "{}"), AW_OK);
    assert_int_equal(raw_int(db, "SELECT send_due_ms FROM subscriptions WHERE actor = ?1", A), 200);
    c.n = 0;
    assert_int_equal(s->outbox->cursor_claim(s, "9-1", 200, 60000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(s->outbox->release_others(s, "10-"), AW_OK);
    assert_int_equal(s->outbox->cursor_claim(s, "10-1", 200, 60000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 2);
    /* a retry waits for its time; a paused peer waits for the pause */
    assert_int_equal(s->outbox->cursor_retry(s, A, "sub1", 2, 2, 7000), AW_OK); /* sent_seq never goes back */
    assert_int_equal(raw_int(db, "SELECT sent_seq FROM subscriptions WHERE actor = ?1", A), 3);
    assert_int_equal(s->outbox->cursor_claim(s, "10-1", 6999, 60000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(s->outbox->next_due(s, 200, &due), AW_OK);
    assert_int_equal(due, 7000);
    assert_int_equal(s->outbox->pause_set(s, A, "peer1", 8000, 1000), AW_OK);
    assert_int_equal(s->outbox->cursor_claim(s, "10-1", 7000, 60000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(s->outbox->cursor_claim(s, "10-1", 8000, 60000, 10, note_claimed, &c), AW_OK);
    assert_int_equal(c.n, 3);
    /* the cap prunes a diff the cursor has not sent: the record is flagged for a resync */
    bool flagged = false;
    add_diff(s, A, "sub1", 8000);
    assert_int_equal(s->subs->diff_trim(s, A, "sub1", 5, 1, &flagged), AW_OK);
    assert_true(flagged);
    /* a queued resync moves the stored position (the view shows it; delivery lets the resync go first) */
    assert_int_equal(s->outbox->cursor_skip(s, A, "sub1", 9), AW_OK);
    assert_int_equal(s->subs->delivery_view_next(s, A, "sub1", "peer1", 3, &sub, &t, &seq, &ts, &blob), AW_OK);
    assert_int_equal(sub.sent_seq, 9);
    free(ts);
    free(blob);
    aw_sub_rec_free(&sub);
    aw_trust_rec_free(&t);
    /* gone with the subscription */
    assert_int_equal(s->subs->del(s, A, "sub1"), AW_OK);
    assert_int_equal(s->outbox->cursor_sent(s, A, "sub1", 5, "10-1", 0), AW_ENOTFOUND);
    sqlite3_close(db);
}

/* Mirrors needing attention come in (actor, subid) order, at most 1000 per call, from after a given one:
 * a subscriber's tick walks them all that way. */
typedef struct seen_subs {
    size_t n;
    char first[40], last[40];
    bool ordered;
} seen_subs;

static int note_sub(const aw_sub_rec *r, void *ud)
{
    seen_subs *v = ud;
    if (v->n == 0) snprintf(v->first, sizeof v->first, "%s", r->subid);
    else if (strcmp(r->subid, v->last) <= 0) v->ordered = false;
    snprintf(v->last, sizeof v->last, "%s", r->subid);
    v->n++;
    return AW_OK;
}

static void attention_pages(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    const char *A = "attaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    mk_actor(s, A, "c");
    assert_int_equal(s->begin(s, true), AW_OK);
    for (int i = 0; i < 1003; i++) {
        char sid[40];
        snprintf(sid, sizeof sid, "m%05d", i);
        aw_sub_rec rec = {.actor = (char *)A, .subid = sid, .peerid = (char *)"peer1", .target = (char *)"properties",
                          .granularity = (char *)"high", .callback = true, .accept_encoding = (char *)""};
        assert_int_equal(s->subs->create(s, &rec), AW_OK);
    }
    assert_int_equal(s->subs->set_state(s, A, "m00500", 3, -1, -1), AW_OK); /* needs an ack */
    assert_int_equal(s->commit(s), AW_OK);
    seen_subs v = {.ordered = true};
    /* the backstop's walk: 1000, then the 3 after the last of them, then none */
    assert_int_equal(s->subs->each_attention(s, 0, true, "", "", note_sub, &v), AW_OK);
    assert_int_equal(v.n, 1000);
    assert_string_equal(v.first, "m00000");
    assert_string_equal(v.last, "m00999");
    assert_true(v.ordered);
    v = (seen_subs){.ordered = true};
    assert_int_equal(s->subs->each_attention(s, 0, true, A, "m00999", note_sub, &v), AW_OK);
    assert_int_equal(v.n, 3);
    assert_string_equal(v.first, "m01000");
    v = (seen_subs){.ordered = true};
    assert_int_equal(s->subs->each_attention(s, 0, true, A, "m01002", note_sub, &v), AW_OK);
    assert_int_equal(v.n, 0);
    /* without `all`: only the mirror that needs attention, from the start or after a point before it */
    v = (seen_subs){.ordered = true};
    assert_int_equal(s->subs->each_attention(s, 0, false, "", "", note_sub, &v), AW_OK);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.first, "m00500");
    v = (seen_subs){.ordered = true};
    assert_int_equal(s->subs->each_attention(s, 0, false, A, "m00500", note_sub, &v), AW_OK);
    assert_int_equal(v.n, 0);
}

/* nowait: while another connection holds the write lock, a write begin answers AW_EBUSY at once (delivery
 * then goes on from a read transaction, which the lock does not hold up); once the lock is free it begins. */
static void write_begin_nowait(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    const char *A = "nwtaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    mk_actor(s, A, "c");
    sqlite3 *db = raw_open(f);
    raw_exec(db, "BEGIN IMMEDIATE");
    assert_non_null(s->nowait);
    s->nowait(s, true);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(s->begin(s, true), AW_EBUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 100);
    assert_int_equal(s->begin(s, false), AW_OK); /* readers are not held up */
    aw_actor_rec a;
    assert_int_equal(s->actors->get(s, A, &a), AW_OK);
    aw_actor_rec_free(&a);
    assert_int_equal(s->commit(s), AW_OK);
    raw_exec(db, "COMMIT");
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->commit(s), AW_OK);
    s->nowait(s, false);
    sqlite3_close(db);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {T(diff_cap_and_pauses), T(sequence_after), T(delivery_cursor),
                                       T(attention_pages), T(write_begin_nowait)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
