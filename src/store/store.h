/* The storage interface. One vtable per entity; a backend (sqlite/, later postgres/) fills them.
 *
 * Rules for every function:
 *  - returns AW_OK, AW_ENOTFOUND (the item really does not exist), AW_ECONFLICT (duplicate / collision),
 *    AW_ESTORAGE_TRANSIENT (busy, retry may work) or AW_ESTORAGE (failed). Never maps a failure to
 *    AW_ENOTFOUND.
 *  - strings passed in are borrowed; strings and records handed out are owned by the caller and freed
 *    with the matching *_free function or free().
 *  - a store handle belongs to one thread. Code reaches the handle of its thread with aw_app_store(app):
 *    the app's own handle on the loop thread, or the pooled handle of a storage-executor job.
 *  - calls may complete later on the loop: storage-bound work goes through the storage executor
 *    (store/exec.h), which runs it on a worker thread with its own handle and completes on the loop.
 *    `blocking` backends (network databases) always use it; SQLite calls are short and run inline
 *    unless cfg.store_threads asks for the executor (measured in bench/http.sh).
 */
#ifndef AW_STORE_STORE_H
#define AW_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <actingweb/status.h>

typedef struct aw_store aw_store;

/* ---------------------------------------------------------------- actors */
typedef struct aw_actor_rec {
    char id[33 + 31];      /* ids are 32 hex; room for caller-chosen ids up to 63 chars */
    char *creator;
    char *passphrase;
    char *trustee_root;    /* NULL when unset */
} aw_actor_rec;

void aw_actor_rec_free(aw_actor_rec *r);

typedef struct aw_store_actor_ops {
    /* Insert; AW_ECONFLICT when the id exists. */
    int (*create)(aw_store *s, const aw_actor_rec *r);
    int (*get)(aw_store *s, const char *id, aw_actor_rec *out);
    /* First actor with that creator (for unique_creator); AW_ENOTFOUND when none. */
    int (*get_by_creator)(aw_store *s, const char *creator, aw_actor_rec *out);
    /* Update creator (NULL = keep) and trustee_root (NULL = keep, "" = clear). */
    int (*update)(aw_store *s, const char *id, const char *creator, const char *trustee_root);
    /* Delete the actor and every row that belongs to it (properties, lists, attributes, trusts,
     * subscriptions, diffs, outbox) in one transaction. AW_ENOTFOUND when absent. */
    int (*delete)(aw_store *s, const char *id);
} aw_store_actor_ops;

/* ---------------------------------------------------------------- simple properties */
/* A property value: the stored text and whether it is JSON (else raw text, served byte for byte). */
typedef int (*aw_prop_each_fn)(const char *name, const char *value, bool is_json, void *ud);

typedef struct aw_store_prop_ops {
    /* *value is malloc'd. */
    int (*get)(aw_store *s, const char *actor, const char *name, char **value, bool *is_json);
    /* Upsert. */
    int (*set)(aw_store *s, const char *actor, const char *name, const char *value, bool is_json);
    /* AW_ENOTFOUND when absent. */
    int (*del)(aw_store *s, const char *actor, const char *name);
    /* Remove every simple property. */
    int (*del_all)(aw_store *s, const char *actor);
    /* Visit every simple property in name order; a non-zero return from fn stops and is returned. */
    int (*each)(aw_store *s, const char *actor, aw_prop_each_fn fn, void *ud);
} aw_store_prop_ops;

/* ---------------------------------------------------------------- list properties
 * One row per item with a stable item id (never reused within the actor) and an order key (rank);
 * inserts and deletes touch only the item concerned. Index = position in rank order. */
typedef struct aw_list_meta {
    char *description;
    char *explanation;
    int64_t count;
} aw_list_meta;

void aw_list_meta_free(aw_list_meta *m);

typedef int (*aw_list_item_fn)(int64_t index, int64_t item_id, const char *json, void *ud);
typedef int (*aw_list_name_fn)(const char *name, const aw_list_meta *meta, void *ud);

typedef struct aw_store_list_ops {
    /* AW_ECONFLICT when a list of that name exists. */
    int (*create)(aw_store *s, const char *actor, const char *name, const char *desc, const char *expl);
    int (*exists)(aw_store *s, const char *actor, const char *name); /* AW_OK / AW_ENOTFOUND */
    int (*meta)(aw_store *s, const char *actor, const char *name, aw_list_meta *out);
    /* NULL = keep. */
    int (*set_meta)(aw_store *s, const char *actor, const char *name, const char *desc, const char *expl);
    /* Remove the list and its items. */
    int (*del)(aw_store *s, const char *actor, const char *name);
    /* Items in order, from position `start`, at most `limit` (<0 = all). */
    int (*items)(aw_store *s, const char *actor, const char *name, int64_t start, int64_t limit,
                 aw_list_item_fn fn, void *ud);
    /* Item at position; *json malloc'd. AW_ENOTFOUND when out of range. */
    int (*get_at)(aw_store *s, const char *actor, const char *name, int64_t index, int64_t *item_id,
                  char **json);
    /* Insert before position `index` (index == count appends). *new_id may be NULL. */
    int (*insert_at)(aw_store *s, const char *actor, const char *name, int64_t index, const char *json,
                     int64_t *new_id);
    int (*update_at)(aw_store *s, const char *actor, const char *name, int64_t index, const char *json);
    int (*delete_at)(aw_store *s, const char *actor, const char *name, int64_t index);
    /* Remove all items, keep the list. */
    int (*clear)(aw_store *s, const char *actor, const char *name);
    /* Every list of the actor, name order. */
    int (*each)(aw_store *s, const char *actor, aw_list_name_fn fn, void *ud);
} aw_store_list_ops;

/* ---------------------------------------------------------------- attributes (bucket/name -> JSON) */
typedef int (*aw_attr_each_fn)(const char *bucket, const char *name, const char *json,
                               const char *timestamp /* NULL = none */, void *ud);

typedef struct aw_store_attr_ops {
    /* Expired rows are never returned. *json and *timestamp malloc'd (*timestamp may be NULL). */
    int (*get)(aw_store *s, const char *actor, const char *bucket, const char *name, char **json,
               char **timestamp);
    /* Upsert. timestamp NULL = none; ttl_s 0 = never expires. */
    int (*set)(aw_store *s, const char *actor, const char *bucket, const char *name, const char *json,
               const char *timestamp, int64_t ttl_s);
    /* Compare-and-swap: set only when the current value equals `expected` (NULL = absent). */
    int (*cas)(aw_store *s, const char *actor, const char *bucket, const char *name, const char *expected,
               const char *json, const char *timestamp);
    int (*del)(aw_store *s, const char *actor, const char *bucket, const char *name); /* ENOTFOUND */
    int (*del_bucket)(aw_store *s, const char *actor, const char *bucket);
    int (*del_all)(aw_store *s, const char *actor);
    /* bucket NULL = every bucket; ordered by bucket, name. */
    int (*each)(aw_store *s, const char *actor, const char *bucket, aw_attr_each_fn fn, void *ud);
} aw_store_attr_ops;

/* ---------------------------------------------------------------- trusts */
typedef struct aw_trust_rec {
    char *actor;           /* owner id */
    char *peerid;
    char *baseuri;
    char *type;            /* peer mini-app URN */
    char *relationship;
    char *secret;
    char *desc;
    bool approved;
    bool peer_approved;
    bool verified;
    char *verification_token;
    char *peer_supported;  /* peer's option tags when known, else NULL */
    char *created_at;      /* ISO */
} aw_trust_rec;

void aw_trust_rec_free(aw_trust_rec *r);

/* What a Bearer check needs (aw_store_trust_ops.auth_by_secret). */
typedef struct aw_trust_auth {
    char peerid[72];       /* truncated if longer */
    char relationship[72]; /* truncated if longer */
    bool approved;         /* this side's approval */
} aw_trust_auth;

typedef struct aw_trust_filter {
    const char *relationship; /* NULL = any */
    const char *peerid;
    const char *type;
} aw_trust_filter;

typedef int (*aw_trust_each_fn)(const aw_trust_rec *r, void *ud);

typedef struct aw_store_trust_ops {
    /* Insert or replace the (actor, peerid) record. */
    int (*upsert)(aw_store *s, const aw_trust_rec *r);
    int (*get)(aw_store *s, const char *actor, const char *peerid, aw_trust_rec *out);
    int (*get_by_secret)(aw_store *s, const char *actor, const char *secret, aw_trust_rec *out);
    /* The trust of `actor` whose secret is `secret`, read from the secret index alone, for authenticating a
     * peer's request; the stored secret is compared again in constant time. AW_ENOTFOUND when none. */
    int (*auth_by_secret)(aw_store *s, const char *actor, const char *secret, aw_trust_auth *out);
    int (*each)(aw_store *s, const char *actor, const aw_trust_filter *f, aw_trust_each_fn fn, void *ud);
    /* Delete the record and everything tied to it (permission overrides; subscriptions, diffs,
     * outbox rows and remote-store attributes for that peer). AW_ENOTFOUND when absent. */
    int (*del)(aw_store *s, const char *actor, const char *peerid);
    /* Permission override JSON for (actor, peer): *json malloc'd; AW_ENOTFOUND when none. */
    int (*perm_get)(aw_store *s, const char *actor, const char *peerid, char **json);
    int (*perm_set)(aw_store *s, const char *actor, const char *peerid, const char *json);
    int (*perm_del)(aw_store *s, const char *actor, const char *peerid);
} aw_store_trust_ops;


/* ---------------------------------------------------------------- subscriptions, diffs, outbox
 * A subscription row is either the publisher's record (callback = false: `peerid` subscribes to us) or
 * the subscriber's mirror (callback = true: we subscribe to `peerid`). The subid is unique per actor. */
typedef struct aw_sub_rec {
    char *actor;
    char *subid;
    char *peerid;
    char *target;
    char *subtarget;   /* "" when none */
    char *resource;    /* "" when none */
    char *granularity; /* "high", "low", "none" */
    bool callback;
    int64_t sequence;  /* publisher: last diff number made; mirror: last sequence applied */
    int64_t acked_seq; /* mirror: highest sequence acknowledged to the publisher */
    bool resync_pending; /* mirror: a pull is due; publisher record: send a resync on the next delivery */
    char *created_at;
    char *accept_encoding; /* publisher record: encodings the subscriber accepts for callbacks, comma-separated
                            * ("gzip,deflate"); "" when none; NULL in a record passed to create = "" */
    bool send_due;         /* publisher record: diffs wait for delivery (only each_for_change fills it) */
    int64_t sent_seq;      /* publisher record: its delivery cursor's stored position (only delivery_view_next
                            * fills it) */
} aw_sub_rec;

void aw_sub_rec_free(aw_sub_rec *r);

typedef struct aw_sub_filter {
    const char *peerid;    /* NULL = any */
    const char *target;
    const char *subtarget;
    const char *resource;
    int callback;          /* -1 any, 0 publisher records, 1 mirrors */
} aw_sub_filter;

typedef int (*aw_sub_each_fn)(const aw_sub_rec *r, void *ud);
typedef int (*aw_diff_each_fn)(int64_t seq, const char *timestamp, const char *blob, void *ud);

typedef struct aw_store_sub_ops {
    int (*create)(aw_store *s, const aw_sub_rec *r);            /* ECONFLICT if (actor, subid) exists */
    int (*get)(aw_store *s, const char *actor, const char *subid, aw_sub_rec *out);
    /* Ordered by callback DESC (mirrors first), then subid. */
    int (*each)(aw_store *s, const char *actor, const aw_sub_filter *f, aw_sub_each_fn fn, void *ud);
    /* Delete the subscription with its diffs, outbox jobs and queued callbacks. ENOTFOUND when absent. */
    int (*del)(aw_store *s, const char *actor, const char *subid);
    /* Atomically take the next sequence number of a publisher record, for something that is not a diff
     * stored with it (a resync): stored in the record (UPDATE ... RETURNING). */
    int (*next_seq)(aw_store *s, const char *actor, const char *subid, int64_t *seq);
    /* The number for a diff the caller stores next with diff_add, when it read the record's current
     * sequence `prev` in this write transaction: prev + 1. A publisher record's sequence is its newest
     * diff's number (or the stored floor when that is higher), so the diff itself takes the number; an
     * ECONFLICT from that diff_add means it was taken meanwhile (then use next_seq). wake_ms > 0 also starts
     * the delivery cursor's wait, as outbox->cursor_wake (pass it when the record read had send_due false
     * and the new diff is to be delivered). */
    int (*next_seq_after)(aw_store *s, const char *actor, const char *subid, int64_t prev, int64_t wake_ms,
                          int64_t *seq);
    /* Mirror state: set the applied sequence (and acked/resync flags when >= 0). */
    int (*set_state)(aw_store *s, const char *actor, const char *subid, int64_t sequence, int64_t acked_seq,
                     int resync_pending);

    int (*diff_add)(aw_store *s, const char *actor, const char *subid, int64_t seq, const char *ts,
                    const char *blob);
    /* Diffs in sequence order with seq > after. */
    int (*diff_each)(aw_store *s, const char *actor, const char *subid, int64_t after, aw_diff_each_fn fn,
                     void *ud);
    int (*diff_get)(aw_store *s, const char *actor, const char *subid, int64_t seq, char **ts, char **blob);
    /* The first diff with seq > after (one index seek): its number, ts and blob. ENOTFOUND when none. */
    int (*diff_first_after)(aw_store *s, const char *actor, const char *subid, int64_t after, int64_t *seq,
                            char **ts, char **blob);
    /* The newest diff (highest seq; one index seek): its number, ts and blob. ENOTFOUND when none. */
    int (*diff_newest)(aw_store *s, const char *actor, const char *subid, int64_t *seq, char **ts, char **blob);
    /* Remove diffs with seq <= upto (upto 0 = all); the record's sequence stays what it was. */
    int (*diff_clear)(aw_store *s, const char *actor, const char *subid, int64_t upto);
    /* Per-subscription diff cap (sdk-api.md §6.8), called after a diff_add whose sequence is `newest`:
     * when the subscription holds more than `cap` diffs, the oldest go. When a delivery job of a pruned
     * diff is still queued the publisher record is flagged (resync_pending) and *flagged set; the jobs
     * stay, and delivery turns the first one into a resync. Cheap when under the cap (one index lookup). */
    int (*diff_trim)(aw_store *s, const char *actor, const char *subid, int64_t newest, int64_t cap, bool *flagged);
    /* What delivering one callback needs, in one query: the publisher record (actor, subid), the trust of
     * `peerid` (t->baseuri and t->secret NULL when there is none; only baseuri, secret and
     * peer_supported are filled) and the diff `seq` (*ts and *blob NULL when it is gone). ENOTFOUND when
     * the subscription is gone. Free with aw_sub_rec_free, aw_trust_rec_free, free. */
    int (*delivery_view)(aw_store *s, const char *actor, const char *subid, const char *peerid, int64_t seq,
                         aw_sub_rec *sub, aw_trust_rec *t, char **ts, char **blob);
    /* The same for the first diff with a sequence above `after` (the delivery cursor's next diff); its number
     * in *seq (0 with *ts and *blob NULL when there is none). */
    int (*delivery_view_next)(aw_store *s, const char *actor, const char *subid, const char *peerid, int64_t after,
                              aw_sub_rec *sub, aw_trust_rec *t, int64_t *seq, char **ts, char **blob);
    /* Across all actors: mirrors that need attention — applied sequence above the acknowledged one, or a
     * resync pending, or queued callbacks older than stale_ms (a gap); with `all`, every mirror (the
     * periodic polling backstop). In (actor, subid) order, starting after (after_actor, after_subid) (""
     * and "": from the first), at most 1000 per call: a caller that got 1000 goes on after the last one
     * next time, so that every mirror gets its turn. */
    int (*each_attention)(aw_store *s, int64_t stale_ms, bool all, const char *after_actor, const char *after_subid,
                          aw_sub_each_fn fn, void *ud);
    /* Publisher records of `target` with what change registration needs of their trust, in one query:
     * fn gets the record (only subid, subtarget, resource, granularity, sequence and send_due are filled;
     * the other strings are NULL), the trust's relationship and approval (relationship NULL when the trust
     * is gone) and the permission override JSON (NULL when none). */
    int (*each_for_change)(aw_store *s, const char *actor, const char *target,
                           int (*fn)(const aw_sub_rec *r, const char *relationship, bool approved,
                                     const char *override_json, void *ud),
                           void *ud);
    /* Suspension of diff registration for (target, subtarget); subtarget "" = the whole target. */
    int (*suspend)(aw_store *s, const char *actor, const char *target, const char *subtarget);
    int (*unsuspend)(aw_store *s, const char *actor, const char *target, const char *subtarget); /* ENOTFOUND */
    /* AW_OK when (target, "") or (target, subtarget) is suspended, AW_ENOTFOUND when not. */
    int (*is_suspended)(aw_store *s, const char *actor, const char *target, const char *subtarget);
} aw_store_sub_ops;

/* Durable delivery (publisher side). Diffs go out from each publisher record as from a cursor: the record's
 * sent_seq trails its sequence while diffs wait (and its send_due_ms is set: cursor_wake), and the record
 * carries the send lease and retry state, so a change stores no job of its own. Everything else (resyncs, low-form fallbacks, peer notices) is a job
 * row in the outbox. Both kinds are leased so several shards can share them, and a subscription has at
 * most one request in flight: a cursor is not claimed while its subscription has outbox jobs, and those
 * wait while the cursor is leased. A job queued for a subscription moves the cursor past its sequence
 * (cursor_skip), so it never overtakes a diff. */
typedef struct aw_outbox_job {
    int64_t id;
    char *actor;
    char *subid;
    char *peerid;
    int64_t seq;
    char *kind;        /* "diff", "resync", "trust_delete", ... */
    char *payload;     /* kind-specific JSON or NULL */
    int attempts;
    int64_t due_ms;
    /* Cursor jobs only (kind "cursor"; delivery's bookkeeping, set to sent_seq by cursor_claim): `after`,
     * the position before this diff (everything up to it is delivered), and `recorded`, the sent_seq
     * stored for the record. */
    int64_t after, recorded;
} aw_outbox_job;

void aw_outbox_job_free(aw_outbox_job *j);

typedef int (*aw_outbox_each_fn)(const aw_outbox_job *j, void *ud);

typedef struct aw_store_outbox_ops {
    int (*add)(aw_store *s, const aw_outbox_job *j);
    /* Lease up to `max` due jobs (due_ms <= now_ms, not leased by anyone) for lease_ms to `owner`;
     * calls fn for each leased job, inside the claiming write transaction (fn may read and write the store
     * but must not begin a transaction). Only the earliest job per subscription is leased, and none while the subscription's cursor is. */
    int (*claim)(aw_store *s, const char *owner, int64_t now_ms, int64_t lease_ms, int max, aw_outbox_each_fn fn,
                 void *ud);
    int (*done)(aw_store *s, int64_t id);
    /* Reschedule after a failure (lease released). */
    int (*retry)(aw_store *s, int64_t id, int attempts, int64_t due_ms);
    /* Earliest due_ms later than after_ms (a job waiting for its retry time), or the end of a peer's pause
     * when earlier; ENOTFOUND when none. An index lookup: jobs already due wait for their subscription's
     * earlier job, whose completion claims again. */
    int (*next_due)(aw_store *s, int64_t after_ms, int64_t *due_ms);
    int (*count)(aw_store *s, int64_t *n);
    /* Release leases held by owners whose name does not start with `keep_prefix` (a restarted process
     * takes over the jobs its dead predecessor had leased). */
    int (*release_others)(aw_store *s, const char *keep_prefix);
    /* AW_OK when any actor has circuit-breaker state stored (bucket _circuit_breaker_state), else ENOTFOUND. */
    int (*breakers_exist)(aw_store *s);
    /* Drop the diff/resync jobs of subscription (actor, subid) with seq < before (a resync replaces them). */
    int (*drop_before)(aw_store *s, const char *actor, const char *subid, int64_t before);
    /* Per-peer pause (after a 503, sdk-api.md §6.3): while now < until_ms no job of (actor, peerid) is
     * claimed, and next_due counts the pause. backoff_ms is the length of the last pause (for doubling). */
    int (*pause_set)(aw_store *s, const char *actor, const char *peerid, int64_t until_ms, int64_t backoff_ms);
    int (*pause_get)(aw_store *s, const char *actor, const char *peerid, int64_t *until_ms,
                     int64_t *backoff_ms); /* ENOTFOUND when none */
    int (*pause_clear)(aw_store *s, const char *actor, const char *peerid);
    /* AW_OK when any pause is stored, else ENOTFOUND. */
    int (*pauses_exist)(aw_store *s);

    /* Lease up to `max` publisher records with diffs waiting that are due (send_due_ms <= now_ms: a lease
     * moves it to the lease's end; peer not paused; no outbox job of the subscription) and call fn for each
     * inside the claiming write transaction, with a job of kind "cursor": id 0, seq = the record's sent_seq,
     * attempts its send_attempts, due_ms the lease's end. next_due and release_others cover cursors too. */
    int (*cursor_claim)(aw_store *s, const char *owner, int64_t now_ms, int64_t lease_ms, int max,
                        aw_outbox_each_fn fn, void *ud);
    /* Inside a change's transaction: diffs now wait on this record (a no-op when they already did). */
    int (*cursor_wake)(aw_store *s, const char *actor, const char *subid, int64_t now_ms);
    /* Diffs up to `seq` are done with (delivered, or given up): sent_seq rises to seq and the attempt count
     * restarts; `owner` keeps the lease (it goes on with the next diff), extended to lease_until when that
     * is > 0. ENOTFOUND when the subscription is gone or `owner` lost the lease. */
    int (*cursor_sent)(aw_store *s, const char *actor, const char *subid, int64_t seq, const char *owner,
                       int64_t lease_until);
    /* No diff is left after the cursor (in the caller's write transaction): sent_seq rises to the record's
     * sequence, the wait ends and `owner`'s lease is released. */
    int (*cursor_idle)(aw_store *s, const char *actor, const char *subid, const char *owner);
    /* Reschedule the cursor's next diff for due_ms (lease released); sent_seq rises to `sent` (diffs
     * delivered before the one that failed). */
    int (*cursor_retry)(aw_store *s, const char *actor, const char *subid, int64_t sent, int attempts,
                        int64_t due_ms);
    /* Move the cursor past `seq` without touching its lease (a resync job replaces the diffs before it). */
    int (*cursor_skip)(aw_store *s, const char *actor, const char *subid, int64_t seq);
} aw_store_outbox_ops;

/* Subscriber-side queue of out-of-order callbacks. */
typedef int (*aw_pending_each_fn)(int64_t seq, const char *body, int64_t received_ms, void *ud);

typedef struct aw_store_pending_ops {
    int (*add)(aw_store *s, const char *actor, const char *subid, int64_t seq, const char *body, int64_t now_ms);
    int (*each)(aw_store *s, const char *actor, const char *subid, aw_pending_each_fn fn, void *ud);
    int (*del_upto)(aw_store *s, const char *actor, const char *subid, int64_t upto); /* upto < 0: all */
    int (*count)(aw_store *s, const char *actor, const char *subid, int64_t *n, int64_t *oldest_ms);
    /* Drop queued entries above `above` received before `before_ms` (they cannot be real: the publisher
     * reported a lower sequence after they arrived). */
    int (*del_stale)(aw_store *s, const char *actor, const char *subid, int64_t above, int64_t before_ms);
} aw_store_pending_ops;

/* ---------------------------------------------------------------- the store */
struct aw_store {
    const aw_store_actor_ops *actors;
    const aw_store_prop_ops *props;
    const aw_store_list_ops *lists;
    const aw_store_attr_ops *attrs;
    const aw_store_trust_ops *trusts;
    const aw_store_sub_ops *subs;
    const aw_store_outbox_ops *outbox;
    const aw_store_pending_ops *pending;
    /* Transactions: begin (write=true takes the write lock at once), commit, rollback.
     * Nested begin is an error. Every single call above is atomic on its own. */
    int (*begin)(aw_store *s, bool write);
    int (*commit)(aw_store *s);
    void (*rollback)(aw_store *s);
    /* Optional (NULL when the backend always waits): while on, begin(s, true) answers AW_EBUSY at once,
     * without a warning, when another connection holds the write lock, instead of waiting for it (up to
     * seconds, blocking the calling thread: an event loop then serves nothing meanwhile). */
    void (*nowait)(aw_store *s, bool on);
    /* Group commit (optional; NULL when the backend has none): group_begin opens a write transaction in
     * which each later begin/commit/rollback pair becomes a savepoint (released, or rolled back alone);
     * group_end commits the whole group (commit=true) or rolls it back. Only store/group.c calls these. */
    int (*group_begin)(aw_store *s);
    int (*group_end)(aw_store *s, bool commit);
    void (*close)(aw_store *s);
    /* Periodic housekeeping (e.g. diff retention; SQLite checkpoints here only as a fallback, its WAL is
     * copied back by a background thread), called every 250 ms from the loop; must stay short unless
     * there is real work. NULL = none. */
    void (*maintain)(aw_store *s);
    bool blocking;  /* calls may wait on a network: run storage-bound requests on the executor */
    void *impl;
};

/* Open a store from a spec such as "sqlite:/path/to/db.sqlite". Applies migrations. */
int aw_store_open(const char *spec, void *logger, aw_store **out);

#endif
