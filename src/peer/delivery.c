/* Publisher-side delivery of subscription callbacks (sdk-api.md §6, protocol.md §9.9–9.10).
 *
 * A diff is stored in the same transaction as the change that made it, and the publisher record's
 * sequence moves ahead of its delivery cursor (sent_seq): the record itself is the durable job. Workers on
 * the loop lease due cursors and outbox jobs (resyncs, low-form fallbacks, peer notices); a lease lets
 * several shards share one database, and a subscription has one request in flight, in sequence order
 * (store.h). They send with the peer engine, then advance the cursor or delete the job, or reschedule.
 * Nothing is lost across a restart: a lease whose process died is released when the next one starts,
 * or runs out. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <actingweb/peer.h>

#include "core/changes.h"
#include "peer/callback_body.h"
#include "peer/delivery.h"
#include "peer/peer_guard.h"
#include "util/json.h"
#include "util/time.h"

#define LEASE_MS 60000
#define MAX_ATTEMPTS 6
#define POLL_MS 1000         /* look for jobs made by other shards at least this often */
#define SENT_EVERY 32 /* a busy cursor stores its position at least this often (on_flush) */
#define DRY_MS 40      /* a cursor that ran dry waits this long, leased, for the next change (on_sweep) */
#define SWEEP_MS 20    /* how often waiting cursors look for a diff from elsewhere (other shards, threads) */
#define LOCK_RETRY_MS 2 /* another connection holds the write lock: try the write again this soon */

typedef struct aw_delivery {
    aw_app *app;
    uv_timer_t timer;   /* next claim */
    uv_timer_t flush;   /* batched completions */
    uv_timer_t sweep;   /* cursors that ran dry look again */
    bool closing;
    bool wake_shards;   /* a change was registered here: wake the other shards' workers (on_timer) */
    unsigned in_flight;
    unsigned max_in_flight;
    int n_claimed;          /* jobs handed over by the current claim */
    size_t cap_bytes;
    /* completed jobs (copies), recorded in one transaction per loop turn */
    struct job_ctx **done;
    size_t n_done, cap_done;
    /* cursors that ran dry, still leased, with their views (cursor_continue) */
    struct job_ctx **dry;
    size_t n_dry, cap_dry;
    aw_peer_guard guard; /* circuit breakers and 503 pauses (its pause flag is looked up before every claim) */
    int64_t delivered;  /* counters for tests and benchmarks */
    int64_t failed;
} aw_delivery;

/* A job being sent or recorded. job.kind "cursor" is a diff from the subscription's cursor (job.id 0,
 * job.seq the diff's number; at a claim, the cursor's position); anything else is an outbox row. A cursor's
 * callback keeps what it was built from (viewed: the record's delivery fields and the trust's baseuri,
 * secret and tags), so that the next diff needs only its own read. */
typedef struct job_ctx {
    aw_delivery *d;
    aw_outbox_job job;
    aw_op *op;
    bool viewed;
    aw_sub_rec sub;
    aw_trust_rec t;
    aw_callback_target tgt; /* t.baseuri parsed (a viewed cursor's callbacks share it) */
    int64_t dry_since; /* when the cursor ran dry (0: it has not) */
} job_ctx;

static bool is_cursor(const aw_outbox_job *j) { return j->id == 0 && !strcmp(j->kind, "cursor"); }

static void schedule_claim(aw_delivery *d, uint64_t delay_ms);
static void cursor_step(aw_delivery *d, const aw_outbox_job *j);
static bool cursor_continue(aw_delivery *d, job_ctx *c, int64_t now);
static job_ctx *job_ctx_new(aw_delivery *d, const aw_outbox_job *job);
static void job_ctx_free(job_ctx *c);
static int job_release(aw_delivery *d, const aw_outbox_job *j, int attempts, int64_t due_ms);
static bool send_next(aw_delivery *d, job_ctx *c, int64_t seq, const char *ts, const char *blob);
static bool park(aw_delivery *d, job_ctx *c);
static void on_flush(uv_timer_t *t);

/* After a completion, claim again only once a quarter of the slots is free (or nothing is in flight):
 * each claim is a write transaction, so fewer, larger batches cost much less per callback. The poll
 * timer still runs for anything left. */
static bool claim_worthwhile(const aw_delivery *d)
{
    return d->in_flight == 0 || d->max_in_flight - d->in_flight >= d->max_in_flight / 4;
}

/* ------------------------------------------------------------------ completion bookkeeping */

/* A write transaction if the write lock is free now; AW_EBUSY while another connection holds it (another
 * shard registering a change holds it for the whole change: ~10 ms for 1,000 subscriptions). Waiting for
 * it would stop this loop's deliveries for that long. */
static int begin_write_now(aw_store *s)
{
    if (!s->nowait) return s->begin(s, true);
    s->nowait(s, true);
    int r = s->begin(s, true);
    s->nowait(s, false);
    return r;
}

/* Half of the cursor's lease (its end in due_ms) has passed: the next recording extends it. */
static bool lease_wants_extension(const aw_outbox_job *j, int64_t now) { return now > j->due_ms - LEASE_MS / 2; }

/* Does recording c's completion need the write lock now? */
static bool wants_write(const aw_delivery *d, const job_ctx *c, int64_t now)
{
    const aw_outbox_job *j = &c->job;
    if (d->closing || !is_cursor(j) || !c->viewed) return true;
    return lease_wants_extension(j, now) || j->seq - j->recorded >= SENT_EVERY;
}

typedef enum { READ_KEPT, READ_DONE, READ_LEFT } read_step;

/* The cursor of c delivered c->job.seq; without the write lock: send its next diff when it follows without
 * a gap (kept), or wait for one while the cursor is newly dry (kept, parked). Anything else needs a write
 * (a step, the end of the wait, a held peer, the end of a dry spell) and is left for a flush that has the
 * lock. READ_DONE: the send could not start (the job was rescheduled); c is finished with. Inside a read
 * transaction. */
static read_step continue_reading(aw_delivery *d, job_ctx *c, int64_t now)
{
    aw_outbox_job *j = &c->job;
    int64_t until = 0;
    if (d->closing || !is_cursor(j) || !c->viewed || aw_guard_breaker_open(&d->guard, j->actor, j->peerid, &until) ||
        aw_guard_peer_paused(&d->guard, j->actor, j->peerid, &until))
        return READ_LEFT;
    j->attempts = 0;
    j->after = j->seq; /* delivered up to here */
    aw_store *s = aw_app_store(d->app);
    int64_t next = 0;
    char *ts = NULL, *blob = NULL;
    read_step st = READ_LEFT;
    int r = s->subs->diff_first_after(s, j->actor, j->subid, j->seq, &next, &ts, &blob);
    if (r == AW_OK && next == j->seq + 1) {
        st = send_next(d, c, next, ts, blob) ? READ_KEPT : READ_DONE;
    } else if (r == AW_ENOTFOUND) {
        if (!c->dry_since) c->dry_since = now;
        if (now - c->dry_since < DRY_MS && park(d, c)) st = READ_KEPT;
    }
    free(ts);
    free(blob);
    return st;
}

/* Put completed jobs back for the next flush, LOCK_RETRY_MS from now. */
static void requeue_done(aw_delivery *d, job_ctx **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d->n_done == d->cap_done) {
            size_t nc = d->cap_done ? d->cap_done * 2 : 64;
            job_ctx **p = realloc(d->done, nc * sizeof *p);
            if (!p) { /* out of memory: its lease runs out and a claim takes the cursor over */
                job_ctx_free(v[i]);
                continue;
            }
            d->done = p;
            d->cap_done = nc;
        }
        d->done[d->n_done++] = v[i];
    }
    if (d->n_done > 0 && !d->closing && !uv_is_active((uv_handle_t *)&d->flush))
        uv_timer_start(&d->flush, on_flush, LOCK_RETRY_MS, 0);
}

/* on_flush without the write lock: cursors go on from a read transaction, which waits for no writer; the
 * rest waits (their positions are stored by a later flush, as every SENT_EVERY diffs anyway). */
static void flush_reading(aw_delivery *d, job_ctx **done, size_t n, int64_t now)
{
    aw_store *s = aw_app_store(d->app);
    bool txn = s->begin(s, false) == AW_OK;
    size_t left = 0;
    for (size_t i = 0; i < n; i++) {
        read_step st = txn ? continue_reading(d, done[i], now) : READ_LEFT;
        if (st == READ_DONE) job_ctx_free(done[i]);
        else if (st == READ_LEFT) done[left++] = done[i];
    }
    if (txn) s->commit(s);
    requeue_done(d, done, left);
    free(done);
    if (!d->closing && claim_worthwhile(d)) schedule_claim(d, 0);
}

/* Record finished jobs in one write transaction. A cursor moves on at once: its next diff is read and
 * sent in the same transaction, under the lease it keeps, so a busy subscription costs one index seek per
 * callback (and a row update every SENT_EVERY), and no claim. */
static void on_flush(uv_timer_t *t)
{
    aw_delivery *d = t->data;
    if (d->n_done == 0) return;
    job_ctx **done = d->done;
    size_t n = d->n_done;
    d->done = NULL;
    d->n_done = d->cap_done = 0;
    aw_store *s = aw_app_store(d->app);
    int64_t now = aw_time_ms();
    bool write = false;
    for (size_t i = 0; i < n && !write; i++) write = wants_write(d, done[i], now);
    int r = !write ? AW_EBUSY : d->closing ? s->begin(s, true) : begin_write_now(s);
    if (r == AW_EBUSY) {
        flush_reading(d, done, n, now);
        return;
    }
    for (size_t i = 0; r == AW_OK && i < n; i++) {
        aw_outbox_job *j = &done[i]->job;
        if (!is_cursor(j)) {
            r = s->outbox->done(s, j->id);
            continue;
        }
        /* sent_seq is stored every SENT_EVERY diffs, with each extension of the lease (its end in due_ms; only
         * when half of it has passed, as that update moves the record in the index of waiting cursors), and
         * whenever the cursor stops (idle, retry, release). A crash resends what was delivered since: the
         * subscriber drops those as duplicates (protocol.md §9.9 sequence rules). */
        int64_t extend = lease_wants_extension(j, now) ? now + LEASE_MS : 0;
        if (extend || j->seq - j->recorded >= SENT_EVERY) {
            int x = s->outbox->cursor_sent(s, j->actor, j->subid, j->seq, d->app->shard_id, extend);
            if (x == AW_ENOTFOUND) continue; /* the subscription went, or (after a long stall) the lease did */
            if (x != AW_OK) {
                r = x;
                break;
            }
            j->recorded = j->seq;
            if (extend) j->due_ms = extend;
        }
        j->attempts = 0;
        j->after = j->seq; /* delivered up to here */
        if (d->closing) job_release(d, j, 0, now); /* the next process takes it from here */
        else if (cursor_continue(d, done[i], now)) done[i] = NULL; /* kept: sent on, or waiting for a change */
    }
    if (r == AW_OK) r = s->commit(s);
    else s->rollback(s);
    if (r != AW_OK) {
        AW_WARN(&d->app->log, "delivery: could not record %zu completed jobs (%s); they will be resent", n,
                aw_strerror(r));
    }
    for (size_t i = 0; i < n; i++)
        if (done[i]) job_ctx_free(done[i]);
    free(done);
    if (!d->closing && claim_worthwhile(d)) schedule_claim(d, 0);
}

/* Cursors that ran dry look for a new diff, in one transaction, for DRY_MS: right after each change this
 * loop registers (aw_delivery_changed), and every SWEEP_MS for changes made elsewhere; then their wait ends.
 * During a stream of changes this replaces, for each cursor that catches up with the writer, the end of its
 * wait, the wake-up in the next change, a claim and a full read (~80 k instructions) by an index seek or two
 * (~7 k each). */
static void on_sweep(uv_timer_t *t)
{
    aw_delivery *d = t->data;
    job_ctx **dry = d->dry;
    size_t n = d->n_dry;
    d->dry = NULL;
    d->n_dry = d->cap_dry = 0;
    if (n == 0) {
        uv_timer_stop(&d->sweep);
        free(dry);
        return;
    }
    aw_store *s = aw_app_store(d->app);
    int64_t now = aw_time_ms();
    int r = d->closing ? s->begin(s, true) : begin_write_now(s);
    if (r == AW_EBUSY) {
        /* Without the write lock, cursors that found a diff send it; the others wait for the next sweep. */
        bool txn = s->begin(s, false) == AW_OK;
        for (size_t i = 0; i < n; i++) {
            read_step st = txn ? continue_reading(d, dry[i], now) : READ_LEFT;
            if (st == READ_DONE) job_ctx_free(dry[i]);
            else if (st == READ_LEFT && !park(d, dry[i])) job_ctx_free(dry[i]); /* its lease runs out */
        }
        if (txn) s->commit(s);
        free(dry);
        return;
    }
    for (size_t i = 0; r == AW_OK && i < n; i++) {
        if (d->closing) job_release(d, &dry[i]->job, 0, now);
        else if (cursor_continue(d, dry[i], now)) dry[i] = NULL;
    }
    if (r == AW_OK) r = s->commit(s);
    else s->rollback(s);
    if (r != AW_OK)
        AW_WARN(&d->app->log, "delivery: waiting cursors could not look for diffs (%s); their leases run out",
                aw_strerror(r));
    for (size_t i = 0; i < n; i++)
        if (dry[i]) job_ctx_free(dry[i]);
    free(dry);
    if (d->n_dry == 0) uv_timer_stop(&d->sweep);
}

/* Keep c (a cursor that ran dry, still leased) for on_sweep. False when out of memory. */
static bool park(aw_delivery *d, job_ctx *c)
{
    if (d->n_dry == d->cap_dry) {
        size_t nc = d->cap_dry ? d->cap_dry * 2 : 64;
        job_ctx **p = realloc(d->dry, nc * sizeof *p);
        if (!p) return false;
        d->dry = p;
        d->cap_dry = nc;
    }
    d->dry[d->n_dry++] = c;
    if (!uv_is_active((uv_handle_t *)&d->sweep)) uv_timer_start(&d->sweep, on_sweep, SWEEP_MS, SWEEP_MS);
    return true;
}

/* Give the job back for another attempt at due_ms (lease released). */
static int job_release(aw_delivery *d, const aw_outbox_job *j, int attempts, int64_t due_ms)
{
    aw_store *s = aw_app_store(d->app);
    if (is_cursor(j)) return s->outbox->cursor_retry(s, j->actor, j->subid, j->after, attempts, due_ms);
    return s->outbox->retry(s, j->id, attempts, due_ms);
}

/* Record a finished job (delivered, given up, or nothing left to send) with the next batch. */
static void job_done(aw_delivery *d, const aw_outbox_job *j)
{
    job_ctx *c = NULL;
    if (d->n_done == d->cap_done) {
        size_t nc = d->cap_done ? d->cap_done * 2 : 64;
        job_ctx **p = realloc(d->done, nc * sizeof *p);
        if (p) {
            d->done = p;
            d->cap_done = nc;
        }
    }
    if (d->n_done < d->cap_done) c = job_ctx_new(d, j);
    if (!c) { /* out of memory: record it on its own; a cursor is claimed again */
        aw_store *s = aw_app_store(d->app);
        if (!is_cursor(j)) s->outbox->done(s, j->id);
        else if (s->outbox->cursor_sent(s, j->actor, j->subid, j->seq, d->app->shard_id, 0) == AW_OK)
            job_release(d, j, 0, aw_time_ms());
        return;
    }
    d->done[d->n_done++] = c;
    if (!d->closing && !uv_is_active((uv_handle_t *)&d->flush)) uv_timer_start(&d->flush, on_flush, 0, 0);
}

/* job_done for the context of a sent job, which the batch takes over (with its view). */
static void job_done_take(aw_delivery *d, job_ctx *c)
{
    if (d->n_done == d->cap_done) {
        size_t nc = d->cap_done ? d->cap_done * 2 : 64;
        job_ctx **p = realloc(d->done, nc * sizeof *p);
        if (!p) {
            job_done(d, &c->job);
            job_ctx_free(c);
            return;
        }
        d->done = p;
        d->cap_done = nc;
    }
    if (c->op) aw_op_unref(c->op);
    c->op = NULL;
    d->done[d->n_done++] = c;
    if (!d->closing && !uv_is_active((uv_handle_t *)&d->flush)) uv_timer_start(&d->flush, on_flush, 0, 0);
}

static int64_t backoff_ms(int attempts)
{
    return aw_backoff_ms(attempts, AW_DELIVERY_BACKOFF_BASE_MS, AW_DELIVERY_BACKOFF_CAP_MS);
}


static void job_retry(aw_delivery *d, const aw_outbox_job *j, int64_t delay_ms, bool count_attempt)
{
    int attempts = j->attempts + (count_attempt ? 1 : 0);
    if (count_attempt && attempts >= MAX_ATTEMPTS) {
        AW_WARN(&d->app->log, "delivery: giving up on %s seq %lld to peer %s after %d attempts; the diff stays "
                              "available for polling", j->subid, (long long)j->seq, j->peerid, attempts);
        d->failed++;
        job_done(d, j);
        return;
    }
    int r = job_release(d, j, attempts, aw_time_ms() + delay_ms);
    if (r != AW_OK) AW_WARN(&d->app->log, "delivery: reschedule failed: %s", aw_strerror(r));
}

/* ------------------------------------------------------------------ resync instead of a pruned backlog */

/* The diff cap pruned diffs this subscriber never got (sdk-api.md §6.8): instead of the next diff it
 * gets one resync (the same path as resume: a `type: resync` callback, or the full state in low form
 * for peers without subscriptionresync), with a new sequence; the older queued jobs go, as the resync
 * carries the current state. Runs inside the claim's transaction. */
static void resync_instead(aw_delivery *d, const aw_outbox_job *job, const aw_sub_rec *sub)
{
    aw_store *s = aw_app_store(d->app);
    json_t *full = NULL;
    int64_t seq = 0;
    int r = aw_changes_queue_resync(d->app, sub, &full, &seq, NULL);
    json_decref(full);
    if (r == AW_OK) r = s->outbox->drop_before(s, job->actor, job->subid, seq);
    if (r == AW_OK) r = s->subs->set_state(s, job->actor, job->subid, -1, -1, 0);
    /* A cursor's lease goes (the resync job, now first in line, waits for it); its position moved past the
     * resync already. */
    if (r == AW_OK && is_cursor(job)) r = job_release(d, job, 0, aw_time_ms());
    if (r != AW_OK) {
        AW_WARN(&d->app->log, "delivery: resync of %s failed (%s); retrying", job->subid, aw_strerror(r));
        job_retry(d, job, backoff_ms(1), false);
        return;
    }
    AW_INFO(&d->app->log, "delivery: %s resyncs at seq %lld after pruned diffs", job->subid, (long long)seq);
    if (is_cursor(job)) schedule_claim(d, 0); /* the resync job is claimable now */
}

/* ------------------------------------------------------------------ sending one job */

static void job_ctx_free(job_ctx *c)
{
    aw_outbox_job_free(&c->job);
    if (c->op) aw_op_unref(c->op);
    aw_sub_rec_free(&c->sub);
    aw_trust_rec_free(&c->t);
    aw_callback_target_free(&c->tgt);
    free(c);
}

/* Keep in c what the callback of a cursor was built from (see job_ctx); on failure c just has no view. */
static void keep_view(job_ctx *c, const aw_sub_rec *sub, const aw_trust_rec *t)
{
    aw_sub_rec *k = &c->sub;
    k->subid = strdup(sub->subid);
    k->peerid = strdup(sub->peerid);
    k->target = strdup(sub->target);
    k->subtarget = strdup(sub->subtarget);
    k->resource = strdup(sub->resource);
    k->granularity = strdup(sub->granularity);
    k->accept_encoding = strdup(sub->accept_encoding ? sub->accept_encoding : "");
    c->t.baseuri = strdup(t->baseuri);
    c->t.secret = strdup(t->secret);
    c->t.peer_supported = t->peer_supported ? strdup(t->peer_supported) : NULL;
    c->viewed = k->subid && k->peerid && k->target && k->subtarget && k->resource && k->granularity &&
                k->accept_encoding && c->t.baseuri && c->t.secret && (c->t.peer_supported || !t->peer_supported);
}

static void on_sent(const aw_result *res, void *ud)
{
    job_ctx *c = ud;
    aw_delivery *d = c->d;
    d->in_flight--;
    int st = aw_result_status(res);
    int http = aw_result_http_status(res);
    const aw_outbox_job *j = &c->job;
    if (st == AW_OK) {
        d->delivered++;
        aw_guard_breaker_record(&d->guard, j->actor, j->peerid, true);
        aw_guard_pause_end(&d->guard, j->actor, j->peerid);
        job_done_take(d, c);
        c = NULL;
    } else if (st == AW_ESHUTDOWN || st == AW_ECANCELED) {
        /* Leave the lease to expire: the job is resent after restart. Release it now if we can. */
        job_release(d, j, j->attempts, aw_time_ms());
    } else if (http == 429) {
        uint32_t ra = aw_result_retry_after_ms(res);
        job_retry(d, j, ra ? ra : 60000, false);
    } else if (http == 503) {
        /* Every subscription of this peer waits, not just this one (sdk-api.md §6.3). */
        aw_guard_breaker_record(&d->guard, j->actor, j->peerid, false);
        job_retry(d, j, aw_guard_pause_peer(&d->guard, j->actor, j->peerid, aw_result_retry_after_ms(res)), true);
    } else if (st == AW_ENET || st == AW_ETIMEDOUT || http == 500 || http == 502 || http == 504 || http == 0) {
        aw_guard_breaker_record(&d->guard, j->actor, j->peerid, false);
        job_retry(d, j, backoff_ms(j->attempts + 1), true);
    } else {
        /* Other 4xx: not retried (404 = the subscriber forgot it; a later pull or trust check settles it). */
        AW_INFO(&d->app->log, "delivery: peer %s answered %d to %s seq %lld; not retried", j->peerid, http, j->subid,
                (long long)j->seq);
        d->failed++;
        job_done(d, j);
    }
    if (c) job_ctx_free(c);
    if (!d->closing && claim_worthwhile(d)) schedule_claim(d, 0);
}

static job_ctx *job_ctx_new(aw_delivery *d, const aw_outbox_job *job)
{
    job_ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->d = d;
    c->job = *job;
    c->job.actor = strdup(job->actor);
    c->job.subid = strdup(job->subid ? job->subid : "");
    c->job.peerid = strdup(job->peerid);
    c->job.kind = strdup(job->kind);
    c->job.payload = job->payload ? strdup(job->payload) : NULL;
    if (!c->job.actor || !c->job.subid || !c->job.peerid || !c->job.kind) {
        job_ctx_free(c);
        return NULL;
    }
    return c;
}

/* A peer notice whose first attempt failed (trust delete, approval): payload {"method", "url", "bearer",
 * "body"?}. The trust may be gone locally already, so the job carries what it needs. */
static void send_notice(aw_delivery *d, const aw_outbox_job *job)
{
    json_t *p = job->payload ? json_loads(job->payload, 0, NULL) : NULL;
    const char *method = aw_json_str(p, "method"), *url = aw_json_str(p, "url"), *bearer = aw_json_str(p, "bearer");
    if (!method || !url) {
        json_decref(p);
        job_done(d, job);
        return;
    }
    aw_peer_request pr = {.method = method, .url = url, .bearer = bearer, .json = json_object_get(p, "body"),
                          .idempotency = AW_IDEMP_SAFE};
    static const aw_retry_policy once = {1, 0};
    aw_call_opts opts = {.deadline_ms = d->app->cfg.net.attempt_ms, .retry = &once};
    job_ctx *c = job_ctx_new(d, job);
    int r = c ? aw_peer_request_async(d->app, &pr, &opts, on_sent, c, &c->op) : AW_ENOMEM;
    if (r != AW_OK) {
        if (c) job_ctx_free(c);
        job_retry(d, job, backoff_ms(job->attempts + 1), true);
    } else {
        d->in_flight++;
    }
    json_decref(p);
}

int aw_delivery_enqueue_notice(aw_app *app, const char *actor, const char *peerid, const char *method, const char *url,
                               const char *bearer, json_t *body)
{
    json_t *p = json_pack("{s:s,s:s,s:s}", "method", method, "url", url, "bearer", bearer ? bearer : "");
    if (!p) return AW_ENOMEM;
    if (body) json_object_set(p, "body", body);
    char *txt = aw_json_dump(p);
    json_decref(p);
    if (!txt) return AW_ENOMEM;
    aw_outbox_job j = {.actor = (char *)actor, .subid = "", .peerid = (char *)peerid, .seq = 0, .kind = "notice",
                       .payload = txt, .attempts = 1, .due_ms = aw_time_ms() + backoff_ms(1)};
    int r = aw_app_store(app)->outbox->add(aw_app_store(app), &j);
    free(txt);
    if (r == AW_OK && app->delivery && aw_app_on_loop_thread(app)) schedule_claim(app->delivery, backoff_ms(1));
    return r;
}

/* Build and send the callback of `job` (a diff, with its ts and blob, or a resync) to the subscriber of
 * publisher record `sub` over trust `t`. */
static void send_callback(aw_delivery *d, const aw_outbox_job *job, const aw_sub_rec *sub, const aw_trust_rec *t,
                          const char *ts, const char *blob)
{
    job_ctx *c = job_ctx_new(d, job);
    if (c && is_cursor(job)) keep_view(c, sub, t);
    static const aw_retry_policy once = {1, 0};
    aw_call_opts opts = {.deadline_ms = d->app->cfg.net.attempt_ms, .retry = &once};
    int r = c ? aw_callback_post(d->app, d->cap_bytes, job, sub, t, ts, blob, &opts, c->viewed ? &c->tgt : NULL,
                                 on_sent, c, &c->op)
              : AW_ENOMEM;
    if (r != AW_OK) {
        if (c) job_ctx_free(c);
        job_retry(d, job, backoff_ms(1), false);
    } else {
        d->in_flight++;
    }
}

/* Send diff `seq` (ts, blob) of c's cursor with c itself: its view, its parsed URL and its copies of the job
 * go on to the next callback. True when sent (c now belongs to it); else the cursor is set to retry and the
 * caller frees c. */
static bool send_next(aw_delivery *d, job_ctx *c, int64_t seq, const char *ts, const char *blob)
{
    if (c->op) aw_op_unref(c->op);
    c->op = NULL;
    c->job.seq = seq;
    c->dry_since = 0;
    static const aw_retry_policy once = {1, 0};
    aw_call_opts opts = {.deadline_ms = d->app->cfg.net.attempt_ms, .retry = &once};
    int r = aw_callback_post(d->app, d->cap_bytes, &c->job, &c->sub, &c->t, ts, blob, &opts, &c->tgt, on_sent, c,
                             &c->op);
    if (r != AW_OK) {
        job_retry(d, &c->job, backoff_ms(1), false);
        return false;
    }
    d->in_flight++;
    return true;
}

/* An outbox job: a resync, a low-form fallback (diff_low), a peer notice. */
static void send_job(aw_delivery *d, const aw_outbox_job *job)
{
    aw_store *s = aw_app_store(d->app);
    int64_t until = 0;
    if (aw_guard_breaker_open(&d->guard, job->actor, job->peerid, &until)) {
        job_retry(d, job, until - aw_time_ms(), false);
        return;
    }
    if (!strcmp(job->kind, "notice")) {
        send_notice(d, job);
        return;
    }
    aw_sub_rec sub;
    aw_trust_rec t;
    char *ts = NULL, *blob = NULL;
    int r = s->subs->delivery_view(s, job->actor, job->subid, job->peerid, job->seq, &sub, &t, &ts, &blob);
    if (r == AW_ENOTFOUND) {
        job_done(d, job);
        return;
    }
    if (r != AW_OK) {
        job_retry(d, job, backoff_ms(1), false);
        return;
    }
    bool is_diff = !strcmp(job->kind, "diff") || !strcmp(job->kind, "diff_low");
    if (!sub.callback && sub.resync_pending && is_diff) {
        resync_instead(d, job, &sub);
    } else {
        if (!sub.callback && sub.resync_pending && !strcmp(job->kind, "resync"))
            s->subs->set_state(s, job->actor, job->subid, -1, -1, 0); /* a resync (resume) is going out anyway */
        if (!t.baseuri || (is_diff && !blob)) job_done(d, job); /* trust gone, or the diff cleared already */
        else send_callback(d, job, &sub, &t, ts, blob);
    }
    free(ts);
    free(blob);
    aw_sub_rec_free(&sub);
    aw_trust_rec_free(&t);
}

/* A cursor at position j->seq (inside a write transaction: its claim, or the flush that recorded its last
 * diff): send the first diff after it, or end the wait when none is left (diffs acknowledged meanwhile
 * count as sent). */
/* A cursor whose peer's circuit is open or whose peer paused us waits (lease released) until then: true. */
static bool cursor_held(aw_delivery *d, const aw_outbox_job *j)
{
    int64_t until = 0;
    if (!aw_guard_breaker_open(&d->guard, j->actor, j->peerid, &until) &&
        !aw_guard_peer_paused(&d->guard, j->actor, j->peerid, &until))
        return false;
    job_release(d, j, j->attempts, until);
    return true;
}

/* Nothing is left after the cursor: its wait ends. */
static void cursor_end(aw_delivery *d, const aw_outbox_job *j)
{
    aw_store *s = aw_app_store(d->app);
    int r = s->outbox->cursor_idle(s, j->actor, j->subid, d->app->shard_id);
    if (r != AW_OK) AW_WARN(&d->app->log, "delivery: could not end the wait of %s: %s", j->subid, aw_strerror(r));
}

static void cursor_step(aw_delivery *d, const aw_outbox_job *j)
{
    aw_store *s = aw_app_store(d->app);
    if (cursor_held(d, j)) return;
    aw_sub_rec sub;
    aw_trust_rec t;
    char *ts = NULL, *blob = NULL;
    aw_outbox_job next = *j;
    int r = s->subs->delivery_view_next(s, j->actor, j->subid, j->peerid, j->seq, &sub, &t, &next.seq, &ts, &blob);
    if (r == AW_ENOTFOUND) return; /* gone with its subscription */
    if (r != AW_OK) {
        job_retry(d, j, backoff_ms(1), false);
        return;
    }
    if (sub.sent_seq > j->seq) {
        /* A resync was queued meanwhile (it moved the stored position past the diffs it replaces): the
         * cursor lets it go first and is claimed again after it. */
        job_release(d, j, j->attempts, aw_time_ms());
        schedule_claim(d, 0);
    } else if (sub.resync_pending) {
        resync_instead(d, &next, &sub);
    } else if (!t.baseuri || !blob) {
        cursor_end(d, j);
    } else {
        send_callback(d, &next, &sub, &t, ts, blob);
    }
    free(ts);
    free(blob);
    aw_sub_rec_free(&sub);
    aw_trust_rec_free(&t);
}

/* The cursor of c has delivered diff c->job.seq (inside the flush's transaction). When c kept its view
 * and the next diff follows without a gap, one read of that diff is all it needs. A gap (diffs pruned by
 * the cap, which may call for a resync; acknowledged before they went out; or a sequence taken by a resync
 * queued meanwhile, which then goes first) and a missing view take cursor_step's full read. Trust and
 * subscription deletes take the diffs with them. */
static bool cursor_continue(aw_delivery *d, job_ctx *c, int64_t now)
{
    const aw_outbox_job *j = &c->job;
    if (!c->viewed) {
        cursor_step(d, j);
        return false;
    }
    if (cursor_held(d, j)) return false;
    aw_store *s = aw_app_store(d->app);
    aw_outbox_job next = *j;
    char *ts = NULL, *blob = NULL;
    bool kept = false;
    int r = s->subs->diff_first_after(s, j->actor, j->subid, j->seq, &next.seq, &ts, &blob);
    if (r == AW_ENOTFOUND) {
        /* Dry: wait a little for the next change before ending the wait (see on_sweep). */
        if (!c->dry_since) c->dry_since = now;
        kept = now - c->dry_since < DRY_MS && park(d, c);
        if (!kept) cursor_end(d, j);
    } else if (r != AW_OK) {
        job_retry(d, j, backoff_ms(1), false);
    } else if (next.seq != j->seq + 1) {
        cursor_step(d, j);
    } else {
        kept = send_next(d, c, next.seq, ts, blob);
    }
    free(ts);
    free(blob);
    return kept;
}

/* Called for every job (cursor or outbox row) inside its claim's transaction. */
static int on_claimed(const aw_outbox_job *j, void *ud)
{
    aw_delivery *d = ud;
    d->n_claimed++;
    if (is_cursor(j)) cursor_step(d, j);
    else send_job(d, j);
    return AW_OK;
}

static void on_timer(uv_timer_t *t)
{
    aw_delivery *d = t->data;
    if (d->closing) return;
    /* Here, not in aw_delivery_changed: the change is committed by now, so the others can see it. */
    if (d->wake_shards) {
        d->wake_shards = false;
        aw_shards_wake_delivery(d->app);
    }
    if (d->in_flight >= d->max_in_flight) return; /* a completion schedules the next claim */
    int max = (int)(d->max_in_flight - d->in_flight);
    if (max > 128) max = 128; /* bounds the time a claim holds the write lock */
    aw_store *s = aw_app_store(d->app);
    d->n_claimed = 0;
    /* Cheap (one row at most): lets a success here clear a pause another shard stored. */
    aw_guard_refresh_pauses(&d->guard);
    /* A claim leases, so it writes: while another connection holds the write lock it is tried again soon
     * rather than waited for. */
    if (s->nowait) s->nowait(s, true);
    int r = s->outbox->cursor_claim(s, d->app->shard_id, aw_time_ms(), LEASE_MS, max, on_claimed, d);
    if (r != AW_OK && r != AW_ENOTFOUND && r != AW_EBUSY)
        AW_WARN(&d->app->log, "delivery: claiming cursors failed: %s", aw_strerror(r));
    if (r != AW_EBUSY && d->n_claimed < max && d->in_flight < d->max_in_flight) {
        int n = d->n_claimed;
        r = s->outbox->claim(s, d->app->shard_id, aw_time_ms(), LEASE_MS, max - n, on_claimed, d);
        if (r != AW_OK && r != AW_ENOTFOUND && r != AW_EBUSY)
            AW_WARN(&d->app->log, "delivery: claiming jobs failed: %s", aw_strerror(r));
    }
    if (s->nowait) s->nowait(s, false);
    if (r == AW_EBUSY) {
        schedule_claim(d, LOCK_RETRY_MS);
        return;
    }
    /* Next look: at once when the claim was cut by `max` and there is room; else when the earliest retry is
     * due, but at least every POLL_MS (other shards' jobs, expired leases). Jobs waiting behind an earlier
     * job of their subscription are claimed when that one completes (on_flush). */
    uint64_t delay = POLL_MS;
    if (d->in_flight < d->max_in_flight) {
        int64_t now = aw_time_ms(), due = 0;
        if (r == AW_OK && d->n_claimed >= max) delay = 0;
        else if (s->outbox->next_due(s, now, &due) == AW_OK && due - now < (int64_t)delay)
            delay = (uint64_t)(due - now);
    }
    if (!uv_is_active((uv_handle_t *)&d->timer)) uv_timer_start(&d->timer, on_timer, delay, 0);
}

static void schedule_claim(aw_delivery *d, uint64_t delay_ms)
{
    if (d->closing) return;
    uv_timer_stop(&d->timer);
    uv_timer_start(&d->timer, on_timer, delay_ms, 0);
}

void aw_delivery_kick(aw_app *app)
{
    aw_delivery *d = app->delivery;
    if (d && !d->closing && aw_app_on_loop_thread(app)) schedule_claim(d, 0);
}

void aw_delivery_changed_elsewhere(aw_app *app)
{
    aw_delivery *d = app->delivery;
    if (!d || d->closing) return;
    schedule_claim(d, 0);
    if (d->n_dry > 0) uv_timer_start(&d->sweep, on_sweep, 0, SWEEP_MS); /* then back to polling */
}

void aw_delivery_changed(aw_app *app)
{
    aw_delivery *d = app->delivery;
    if (!d || d->closing || !aw_app_on_loop_thread(app)) return;
    if (app->link) d->wake_shards = true;
    aw_delivery_changed_elsewhere(app);
}

/* ------------------------------------------------------------------ direct send (no outbox) */

typedef struct now_ctx {
    aw_done_cb cb;
    void *ud;
} now_ctx;

static void on_sent_now(const aw_result *res, void *ud)
{
    now_ctx *c = ud;
    c->cb(res, c->ud);
    free(c);
}

int aw_delivery_send_now(aw_app *app, const char *actor, const char *subid, int64_t seq, aw_done_cb cb, void *ud)
{
    aw_store *s = aw_app_store(app);
    aw_sub_rec sub;
    int r = s->subs->get(s, actor, subid, &sub);
    if (r != AW_OK) return r;
    char *peerid = sub.callback ? NULL : strdup(sub.peerid);
    aw_sub_rec_free(&sub);
    if (!peerid) return AW_ENOTFOUND; /* a mirror (or out of memory) */
    if (seq <= 0) {
        char *nts = NULL, *nblob = NULL;
        r = s->subs->diff_newest(s, actor, subid, &seq, &nts, &nblob);
        free(nts);
        free(nblob);
    }
    aw_trust_rec t = {0};
    char *ts = NULL, *blob = NULL;
    if (r == AW_OK) r = s->subs->delivery_view(s, actor, subid, peerid, seq, &sub, &t, &ts, &blob);
    free(peerid);
    if (r != AW_OK) return r;
    if (!t.baseuri) r = AW_ENOTRUST;
    else if (!blob) r = AW_ENOTFOUND;
    aw_outbox_job j = {.actor = (char *)actor, .subid = (char *)subid, .peerid = sub.peerid, .seq = seq, .kind = "diff"};
    now_ctx *c = r == AW_OK ? calloc(1, sizeof *c) : NULL;
    if (r == AW_OK && !c) r = AW_ENOMEM;
    if (r == AW_OK) {
        c->cb = cb;
        c->ud = ud;
        r = aw_callback_post(app, app->delivery ? app->delivery->cap_bytes : 256u << 10, &j, &sub, &t, ts, blob, NULL, NULL,
                             on_sent_now, c, NULL);
        if (r == AW_OK) c = NULL;
    }
    free(c);
    free(ts);
    free(blob);
    aw_sub_rec_free(&sub);
    aw_trust_rec_free(&t);
    return r;
}

/* ------------------------------------------------------------------ lifecycle */

int aw_delivery_start(aw_app *app)
{
    aw_delivery *d = calloc(1, sizeof *d);
    if (!d) return AW_ENOMEM;
    d->app = app;
    d->max_in_flight = app->cfg.delivery_max_concurrent ? app->cfg.delivery_max_concurrent : 64;
    d->cap_bytes = app->cfg.delivery_cap_bytes ? app->cfg.delivery_cap_bytes : 256u << 10;
    uv_timer_init(app->loop, &d->timer);
    uv_timer_init(app->loop, &d->flush);
    uv_timer_init(app->loop, &d->sweep);
    d->timer.data = d->flush.data = d->sweep.data = d;
    app->delivery = d;
    /* Jobs a previous (dead) process had leased become ours at once instead of after the lease. */
    char prefix[24];
    snprintf(prefix, sizeof prefix, "%d-", (int)getpid());
    aw_app_store(app)->outbox->release_others(aw_app_store(app), prefix);
    aw_guard_init(&d->guard, app); /* breaker state and pauses stored by earlier runs are honoured */
    schedule_claim(d, 10); /* jobs left over from a previous run */
    return AW_OK;
}

static void on_closed(uv_handle_t *h) { aw_app_handle_closed(((aw_delivery *)h->data)->app); }

void aw_delivery_shutdown(aw_app *app)
{
    aw_delivery *d = app->delivery;
    if (!d || d->closing) return;
    d->closing = true;
    on_flush(&d->flush);
    on_sweep(&d->sweep); /* waiting cursors are released */
    app->closing_handles += 3;
    uv_close((uv_handle_t *)&d->timer, on_closed);
    uv_close((uv_handle_t *)&d->flush, on_closed);
    uv_close((uv_handle_t *)&d->sweep, on_closed);
}

void aw_delivery_free(aw_app *app)
{
    aw_delivery *d = app->delivery;
    if (!d) return;
    for (size_t i = 0; i < d->n_done; i++) job_ctx_free(d->done[i]);
    free(d->done);
    for (size_t i = 0; i < d->n_dry; i++) job_ctx_free(d->dry[i]);
    free(d->dry);
    free(d);
    app->delivery = NULL;
}

void aw_delivery_stats(const aw_app *app, int64_t *delivered, int64_t *failed)
{
    const aw_delivery *d = app->delivery;
    if (delivered) *delivered = d ? d->delivered : 0;
    if (failed) *failed = d ? d->failed : 0;
}
