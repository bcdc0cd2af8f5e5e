/* Unit tests for the SQLite store (src/store/sqlite): migrations, actors, properties, attributes, trusts,
 * transactions, group commit, checkpoints, and the delete cascade checked directly in the database file.
 * Subscription sequences and delivery: test_store_delivery.c. */
#include <sys/stat.h>
#include <time.h>

#include "store/sqlite/sqlite.h"
#include "store_fixture.h"

/* ------------------------------------------------------------------ open / migrate */
static void open_migrate_twice(void **state)
{
    fx *f = *state;
    sqlite3 *db = raw_open(f);
    int64_t v1 = raw_int(db, "PRAGMA user_version", NULL);
    int64_t t1 = raw_int(db, "SELECT count(*) FROM sqlite_master", NULL);
    assert_true(v1 >= 1);
    mk_actor(f->s, "a1", "c");
    f->s->close(f->s);
    f->s = NULL;
    /* Re-open: no migration re-applied, data kept, schema unchanged. */
    char spec[160];
    snprintf(spec, sizeof spec, "sqlite:%s", f->path);
    assert_int_equal(aw_store_open(spec, NULL, &f->s), AW_OK);
    assert_int_equal(raw_int(db, "PRAGMA user_version", NULL), v1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master", NULL), t1);
    aw_actor_rec r;
    assert_int_equal(f->s->actors->get(f->s, "a1", &r), AW_OK);
    aw_actor_rec_free(&r);
    /* A second handle on the same file at the same time (another shard). */
    aw_store *s2 = NULL;
    assert_int_equal(aw_store_open(spec, NULL, &s2), AW_OK);
    assert_int_equal(s2->actors->get(s2, "a1", &r), AW_OK);
    aw_actor_rec_free(&r);
    s2->close(s2);
    /* WAL journal. */
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* Bad specs. */
    aw_store *bad = NULL;
    assert_int_not_equal(aw_store_open("nosuch:/x", NULL, &bad), AW_OK);
    assert_int_not_equal(aw_store_open("sqlite:/nonexistent-dir/x/y.db", NULL, &bad), AW_OK);
    assert_int_not_equal(aw_store_open(NULL, NULL, &bad), AW_OK);
}

static void newer_schema_refused(void **state)
{
    fx *f = *state;
    f->s->close(f->s);
    f->s = NULL;
    sqlite3 *db = raw_open(f);
    raw_exec(db, "PRAGMA user_version = 100000");
    sqlite3_close(db);
    char spec[160];
    snprintf(spec, sizeof spec, "sqlite:%s", f->path);
    aw_store *s = NULL;
    assert_int_equal(aw_store_open(spec, NULL, &s), AW_ESTORAGE);
    assert_null(s);
}

/* ------------------------------------------------------------------ actors */
static void actors_crud(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    aw_actor_rec r;
    assert_int_equal(s->actors->get(s, "nobody", &r), AW_ENOTFOUND);
    assert_int_equal(s->actors->get_by_creator(s, "nobody", &r), AW_ENOTFOUND);
    aw_actor_rec a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "0123456789abcdef0123456789abcdef");
    a.creator = (char *)"maria@example.org";
    a.passphrase = (char *)"pw";
    a.trustee_root = (char *)"http://mgr/x";
    assert_int_equal(s->actors->create(s, &a), AW_OK);
    assert_int_equal(s->actors->create(s, &a), AW_ECONFLICT);
    assert_int_equal(s->actors->get(s, a.id, &r), AW_OK);
    assert_string_equal(r.id, a.id);
    assert_string_equal(r.creator, "maria@example.org");
    assert_string_equal(r.passphrase, "pw");
    assert_string_equal(r.trustee_root, "http://mgr/x");
    aw_actor_rec_free(&r);
    assert_int_equal(s->actors->get_by_creator(s, "maria@example.org", &r), AW_OK);
    assert_string_equal(r.id, a.id);
    aw_actor_rec_free(&r);
    /* Update: NULL keeps, "" clears trustee_root. */
    assert_int_equal(s->actors->update(s, a.id, NULL, NULL), AW_OK);
    assert_int_equal(s->actors->update(s, a.id, "new", NULL), AW_OK);
    assert_int_equal(s->actors->get(s, a.id, &r), AW_OK);
    assert_string_equal(r.creator, "new");
    assert_string_equal(r.trustee_root, "http://mgr/x");
    aw_actor_rec_free(&r);
    assert_int_equal(s->actors->update(s, a.id, NULL, ""), AW_OK);
    assert_int_equal(s->actors->get(s, a.id, &r), AW_OK);
    assert_null(r.trustee_root);
    assert_string_equal(r.creator, "new");
    aw_actor_rec_free(&r);
    assert_int_equal(s->actors->update(s, "missing", "x", NULL), AW_ENOTFOUND);
    /* No trustee_root at creation. */
    mk_actor(s, "second", "c2");
    assert_int_equal(s->actors->get(s, "second", &r), AW_OK);
    assert_null(r.trustee_root);
    aw_actor_rec_free(&r);
    /* Delete. */
    assert_int_equal(s->actors->delete(s, a.id), AW_OK);
    assert_int_equal(s->actors->get(s, a.id, &r), AW_ENOTFOUND);
    assert_int_equal(s->actors->delete(s, a.id), AW_ENOTFOUND);
    assert_int_equal(s->actors->get(s, "second", &r), AW_OK);
    aw_actor_rec_free(&r);
    /* The id can be used again after delete. */
    assert_int_equal(s->actors->create(s, &a), AW_OK);
}

static void delete_cascade(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    const char *A = "cascadeaaaaaaaaaaaaaaaaaaaaaaaaa", *B = "keepbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const char *ids[2] = {A, B};
    for (int i = 0; i < 2; i++) {
        const char *id = ids[i];
        mk_actor(s, id, "c");
        assert_int_equal(s->props->set(s, id, "p1", "{\"a\":1}", true), AW_OK);
        assert_int_equal(s->props->set(s, id, "p2", "raw text", false), AW_OK);
        assert_int_equal(s->lists->create(s, id, "l1", "desc", "expl"), AW_OK);
        assert_int_equal(s->lists->insert_at(s, id, "l1", 0, "1", NULL), AW_OK);
        assert_int_equal(s->lists->insert_at(s, id, "l1", 1, "\"two\"", NULL), AW_OK);
        assert_int_equal(s->attrs->set(s, id, "b", "n", "1", "2024-01-01 00:00:00", 0), AW_OK);
        assert_int_equal(s->attrs->set(s, id, "remote:peer1", "n", "1", NULL, 60), AW_OK);
        mk_trust(s, id, "peer1", "friend", "urn:x", "secret-1");
        mk_trust(s, id, "peer2", "admin", "urn:x", "secret-2");
        assert_int_equal(s->trusts->perm_set(s, id, "peer1", "{\"properties\":{}}"), AW_OK);
        assert_int_equal(s->outbox->pause_set(s, id, "peer1", 1, 1), AW_OK);
    }
    sqlite3 *db = raw_open(f);
    int ntables = 0;
    assert_true(rows_of_actor(db, A, &ntables, false) > 8);
    assert_true(ntables >= 6);
    int64_t before_b = rows_of_actor(db, B, &ntables, false);
    assert_int_equal(s->actors->delete(s, A), AW_OK);
    assert_int_equal(rows_of_actor(db, A, &ntables, true), 0);
    /* The other actor is untouched. */
    assert_int_equal(rows_of_actor(db, B, &ntables, false), before_b);
    char *v = NULL;
    bool js;
    assert_int_equal(s->props->get(s, A, "p1", &v, &js), AW_ENOTFOUND);
    assert_int_equal(s->props->get(s, B, "p1", &v, &js), AW_OK);
    free(v);
    sqlite3_close(db);
}

/* ------------------------------------------------------------------ properties */
typedef struct collect {
    char names[16][32];
    char values[16][64];
    bool is_json[16];
    int n;
    int stop_at;
} collect;

static int collect_prop(const char *name, const char *value, bool is_json, void *ud)
{
    collect *c = ud;
    if (c->stop_at && c->n == c->stop_at) return 7;
    snprintf(c->names[c->n], sizeof c->names[0], "%s", name);
    snprintf(c->values[c->n], sizeof c->values[0], "%s", value);
    c->is_json[c->n] = is_json;
    c->n++;
    return 0;
}

static void properties(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    mk_actor(s, "pa", "c");
    char *v = NULL;
    bool js = true;
    assert_int_equal(s->props->get(s, "pa", "x", &v, &js), AW_ENOTFOUND);
    assert_int_equal(s->props->del(s, "pa", "x"), AW_ENOTFOUND);
    assert_int_equal(s->props->set(s, "pa", "b", "{\"k\":[1,2]}", true), AW_OK);
    assert_int_equal(s->props->set(s, "pa", "a", "plain \xc3\xa9 text", false), AW_OK);
    assert_int_equal(s->props->set(s, "pa", "c/sub", "3", true), AW_OK);
    assert_int_equal(s->props->get(s, "pa", "a", &v, &js), AW_OK);
    assert_string_equal(v, "plain \xc3\xa9 text");
    assert_false(js);
    free(v);
    assert_int_equal(s->props->get(s, "pa", "b", &v, &js), AW_OK);
    assert_string_equal(v, "{\"k\":[1,2]}");
    assert_true(js);
    free(v);
    /* Upsert replaces value and kind. */
    assert_int_equal(s->props->set(s, "pa", "b", "raw", false), AW_OK);
    assert_int_equal(s->props->get(s, "pa", "b", &v, &js), AW_OK);
    assert_string_equal(v, "raw");
    assert_false(js);
    free(v);
    /* Empty value is a value. */
    assert_int_equal(s->props->set(s, "pa", "e", "", false), AW_OK);
    assert_int_equal(s->props->get(s, "pa", "e", &v, &js), AW_OK);
    assert_string_equal(v, "");
    free(v);
    /* each: name order, per actor only. */
    mk_actor(s, "pb", "c");
    assert_int_equal(s->props->set(s, "pb", "zz", "1", true), AW_OK);
    collect c;
    memset(&c, 0, sizeof c);
    assert_int_equal(s->props->each(s, "pa", collect_prop, &c), AW_OK);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.names[0], "a");
    assert_string_equal(c.names[1], "b");
    assert_string_equal(c.names[2], "c/sub");
    assert_string_equal(c.names[3], "e");
    assert_true(c.is_json[2]);
    /* A non-zero return stops the walk and is returned. */
    memset(&c, 0, sizeof c);
    c.stop_at = 2;
    assert_int_equal(s->props->each(s, "pa", collect_prop, &c), 7);
    assert_int_equal(c.n, 2);
    /* The statement is reusable after an early stop. */
    memset(&c, 0, sizeof c);
    assert_int_equal(s->props->each(s, "pa", collect_prop, &c), AW_OK);
    assert_int_equal(c.n, 4);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->props->each(s, "nobody", collect_prop, &c), AW_OK);
    assert_int_equal(c.n, 0);
    /* del, del_all */
    assert_int_equal(s->props->del(s, "pa", "a"), AW_OK);
    assert_int_equal(s->props->del(s, "pa", "a"), AW_ENOTFOUND);
    assert_int_equal(s->props->del_all(s, "pa"), AW_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->props->each(s, "pa", collect_prop, &c), AW_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(s->props->get(s, "pb", "zz", &v, &js), AW_OK);
    free(v);
}

/* ------------------------------------------------------------------ attributes */
typedef struct acollect {
    char keys[16][64];
    int n;
} acollect;

static int collect_attr(const char *bucket, const char *name, const char *json, const char *ts, void *ud)
{
    acollect *c = ud;
    snprintf(c->keys[c->n++], sizeof c->keys[0], "%s/%s=%s@%s", bucket, name, json, ts ? ts : "null");
    return 0;
}

static void attributes(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    mk_actor(s, "at", "c");
    char *j = NULL, *ts = NULL;
    assert_int_equal(s->attrs->get(s, "at", "b", "n", &j, &ts), AW_ENOTFOUND);
    assert_int_equal(s->attrs->del(s, "at", "b", "n"), AW_ENOTFOUND);
    assert_int_equal(s->attrs->set(s, "at", "b", "n", "{\"x\":1}", "2024-01-02 03:04:05", 0), AW_OK);
    assert_int_equal(s->attrs->set(s, "at", "b", "m", "2", NULL, 0), AW_OK);
    assert_int_equal(s->attrs->set(s, "at", "a:colon", "k", "\"s\"", NULL, 0), AW_OK);
    assert_int_equal(s->attrs->get(s, "at", "b", "n", &j, &ts), AW_OK);
    assert_string_equal(j, "{\"x\":1}");
    assert_string_equal(ts, "2024-01-02 03:04:05");
    free(j);
    free(ts);
    assert_int_equal(s->attrs->get(s, "at", "b", "m", &j, &ts), AW_OK);
    assert_null(ts);
    free(j);
    /* Timestamp pointer may be NULL. */
    assert_int_equal(s->attrs->get(s, "at", "b", "m", &j, NULL), AW_OK);
    free(j);
    acollect c;
    memset(&c, 0, sizeof c);
    assert_int_equal(s->attrs->each(s, "at", NULL, collect_attr, &c), AW_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "a:colon/k=\"s\"@null");
    assert_string_equal(c.keys[1], "b/m=2@null");
    assert_string_equal(c.keys[2], "b/n={\"x\":1}@2024-01-02 03:04:05");
    memset(&c, 0, sizeof c);
    assert_int_equal(s->attrs->each(s, "at", "b", collect_attr, &c), AW_OK);
    assert_int_equal(c.n, 2);

    /* TTL: a row past its expiry is hidden from get and each. Age it directly in the database. */
    assert_int_equal(s->attrs->set(s, "at", "ttl", "gone", "1", NULL, 3600), AW_OK);
    assert_int_equal(s->attrs->set(s, "at", "ttl", "stays", "1", NULL, 3600), AW_OK);
    assert_int_equal(s->attrs->get(s, "at", "ttl", "gone", &j, &ts), AW_OK);
    free(j);
    free(ts);
    sqlite3 *db = raw_open(f);
    raw_exec(db, "UPDATE attributes SET expires = strftime('%s','now') - 5 WHERE bucket = 'ttl' AND name = 'gone'");
    assert_int_equal(s->attrs->get(s, "at", "ttl", "gone", &j, &ts), AW_ENOTFOUND);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->attrs->each(s, "at", "ttl", collect_attr, &c), AW_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.keys[0], "ttl/stays=1@null");
    memset(&c, 0, sizeof c);
    assert_int_equal(s->attrs->each(s, "at", NULL, collect_attr, &c), AW_OK);
    assert_int_equal(c.n, 4);
    /* Setting it again without a TTL revives it for good. */
    assert_int_equal(s->attrs->set(s, "at", "ttl", "gone", "2", NULL, 0), AW_OK);
    assert_int_equal(s->attrs->get(s, "at", "ttl", "gone", &j, &ts), AW_OK);
    assert_string_equal(j, "2");
    free(j);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM attributes WHERE name = 'gone' AND expires IS NULL", NULL), 1);
    /* And a real one-second TTL expires in real time. */
    assert_int_equal(s->attrs->set(s, "at", "ttl", "short", "1", NULL, 1), AW_OK);
    sleep(2);
    assert_int_equal(s->attrs->get(s, "at", "ttl", "short", &j, &ts), AW_ENOTFOUND);

    /* CAS. */
    assert_int_equal(s->attrs->cas(s, "at", "cas", "k", NULL, "1", NULL), AW_OK);       /* absent → set */
    assert_int_equal(s->attrs->cas(s, "at", "cas", "k", NULL, "9", NULL), AW_ECONFLICT); /* not absent */
    assert_int_equal(s->attrs->cas(s, "at", "cas", "k", "2", "9", NULL), AW_ECONFLICT);  /* wrong expected */
    assert_int_equal(s->attrs->cas(s, "at", "cas", "k", "1", "2", "2024-01-01 00:00:00"), AW_OK);
    assert_int_equal(s->attrs->get(s, "at", "cas", "k", &j, &ts), AW_OK);
    assert_string_equal(j, "2");
    assert_string_equal(ts, "2024-01-01 00:00:00");
    free(j);
    free(ts);
    assert_int_equal(s->attrs->cas(s, "at", "cas", "missing", "1", "2", NULL), AW_ECONFLICT);
    assert_int_equal(s->attrs->get(s, "at", "cas", "missing", &j, &ts), AW_ENOTFOUND);

    /* Deletes. */
    assert_int_equal(s->attrs->del(s, "at", "b", "n"), AW_OK);
    assert_int_equal(s->attrs->del(s, "at", "b", "n"), AW_ENOTFOUND);
    assert_int_equal(s->attrs->del_bucket(s, "at", "b"), AW_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->attrs->each(s, "at", "b", collect_attr, &c), AW_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(s->attrs->get(s, "at", "a:colon", "k", &j, &ts), AW_OK);
    free(j);
    assert_int_equal(s->attrs->del_all(s, "at"), AW_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(s->attrs->each(s, "at", NULL, collect_attr, &c), AW_OK);
    assert_int_equal(c.n, 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM attributes WHERE actor = 'at'", NULL), 0);
    sqlite3_close(db);
}

/* ------------------------------------------------------------------ trusts */
typedef struct tcollect {
    char peers[16][32];
    int n;
} tcollect;

static int collect_trust(const aw_trust_rec *r, void *ud)
{
    tcollect *c = ud;
    snprintf(c->peers[c->n++], sizeof c->peers[0], "%s", r->peerid);
    return 0;
}

static void trusts(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    mk_actor(s, "tr", "c");
    mk_actor(s, "tr2", "c");
    aw_trust_rec t;
    assert_int_equal(s->trusts->get(s, "tr", "p1", &t), AW_ENOTFOUND);
    assert_int_equal(s->trusts->get_by_secret(s, "tr", "s1", &t), AW_ENOTFOUND);
    assert_int_equal(s->trusts->del(s, "tr", "p1"), AW_ENOTFOUND);
    mk_trust(s, "tr", "p1", "friend", "urn:a", "s1");
    mk_trust(s, "tr", "p2", "associate", "urn:b", "s2");
    mk_trust(s, "tr", "p3", "friend", "urn:b", "s3");
    mk_trust(s, "tr2", "p1", "admin", "urn:a", "other-secret");
    assert_int_equal(s->trusts->get(s, "tr", "p1", &t), AW_OK);
    assert_string_equal(t.actor, "tr");
    assert_string_equal(t.relationship, "friend");
    assert_string_equal(t.secret, "s1");
    assert_string_equal(t.type, "urn:a");
    assert_string_equal(t.desc, "d");
    assert_true(t.approved);
    assert_false(t.peer_approved);
    assert_false(t.verified);
    assert_null(t.peer_supported);
    assert_non_null(t.created_at);
    char created[64];
    snprintf(created, sizeof created, "%s", t.created_at);
    aw_trust_rec_free(&t);
    /* Upsert replaces the record for (actor, peer) and keeps created_at. */
    aw_trust_rec u;
    memset(&u, 0, sizeof u);
    u.actor = (char *)"tr";
    u.peerid = (char *)"p1";
    u.baseuri = (char *)"http://new/x";
    u.type = (char *)"urn:a";
    u.relationship = (char *)"partner";
    u.secret = (char *)"s1-new";
    u.peer_approved = true;
    u.verified = true;
    u.peer_supported = (char *)"trust,subscriptions";
    assert_int_equal(s->trusts->upsert(s, &u), AW_OK);
    assert_int_equal(s->trusts->get(s, "tr", "p1", &t), AW_OK);
    assert_string_equal(t.relationship, "partner");
    assert_string_equal(t.baseuri, "http://new/x");
    assert_false(t.approved);
    assert_true(t.peer_approved);
    assert_true(t.verified);
    assert_string_equal(t.peer_supported, "trust,subscriptions");
    assert_string_equal(t.created_at, created);
    aw_trust_rec_free(&t);
    /* By secret: exact, per actor; the old secret no longer works. */
    assert_int_equal(s->trusts->get_by_secret(s, "tr", "s1", &t), AW_ENOTFOUND);
    assert_int_equal(s->trusts->get_by_secret(s, "tr", "s1-new", &t), AW_OK);
    assert_string_equal(t.peerid, "p1");
    aw_trust_rec_free(&t);
    assert_int_equal(s->trusts->get_by_secret(s, "tr", "other-secret", &t), AW_ENOTFOUND);
    assert_int_equal(s->trusts->get_by_secret(s, "tr", "", &t), AW_ENOTFOUND);
    /* Filters. */
    tcollect c;
    memset(&c, 0, sizeof c);
    assert_int_equal(s->trusts->each(s, "tr", NULL, collect_trust, &c), AW_OK);
    assert_int_equal(c.n, 3);
    aw_trust_filter fl = {"friend", NULL, NULL};
    memset(&c, 0, sizeof c);
    assert_int_equal(s->trusts->each(s, "tr", &fl, collect_trust, &c), AW_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.peers[0], "p3");
    aw_trust_filter ft = {NULL, NULL, "urn:b"};
    memset(&c, 0, sizeof c);
    assert_int_equal(s->trusts->each(s, "tr", &ft, collect_trust, &c), AW_OK);
    assert_int_equal(c.n, 2);
    aw_trust_filter fp = {NULL, "p2", NULL};
    memset(&c, 0, sizeof c);
    assert_int_equal(s->trusts->each(s, "tr", &fp, collect_trust, &c), AW_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.peers[0], "p2");
    aw_trust_filter fall = {"friend", "p3", "urn:b"};
    memset(&c, 0, sizeof c);
    assert_int_equal(s->trusts->each(s, "tr", &fall, collect_trust, &c), AW_OK);
    assert_int_equal(c.n, 1);
    aw_trust_filter fnone = {"friend", "p2", NULL};
    memset(&c, 0, sizeof c);
    assert_int_equal(s->trusts->each(s, "tr", &fnone, collect_trust, &c), AW_OK);
    assert_int_equal(c.n, 0);
    /* Permission overrides. */
    char *j = NULL;
    assert_int_equal(s->trusts->perm_get(s, "tr", "p3", &j), AW_ENOTFOUND);
    assert_int_equal(s->trusts->perm_set(s, "tr", "p3", "{\"a\":1}"), AW_OK);
    assert_int_equal(s->trusts->perm_set(s, "tr", "p3", "{\"a\":2}"), AW_OK);
    assert_int_equal(s->trusts->perm_get(s, "tr", "p3", &j), AW_OK);
    assert_string_equal(j, "{\"a\":2}");
    free(j);
    assert_int_equal(s->trusts->perm_del(s, "tr", "p3"), AW_OK);
    assert_int_equal(s->trusts->perm_get(s, "tr", "p3", &j), AW_ENOTFOUND);
    /* Delete cascades to the overrides and the peer's remote-store bucket, and nothing else. */
    assert_int_equal(s->trusts->perm_set(s, "tr", "p3", "{}"), AW_OK);
    assert_int_equal(s->trusts->perm_set(s, "tr", "p2", "{}"), AW_OK);
    assert_int_equal(s->attrs->set(s, "tr", "remote:p3", "x", "1", NULL, 0), AW_OK);
    assert_int_equal(s->attrs->set(s, "tr", "remote:p2", "x", "1", NULL, 0), AW_OK);
    assert_int_equal(s->trusts->del(s, "tr", "p3"), AW_OK);
    assert_int_equal(s->trusts->get(s, "tr", "p3", &t), AW_ENOTFOUND);
    assert_int_equal(s->trusts->del(s, "tr", "p3"), AW_ENOTFOUND);
    assert_int_equal(s->trusts->perm_get(s, "tr", "p3", &j), AW_ENOTFOUND);
    char *v = NULL;
    assert_int_equal(s->attrs->get(s, "tr", "remote:p3", "x", &v, NULL), AW_ENOTFOUND);
    assert_int_equal(s->attrs->get(s, "tr", "remote:p2", "x", &v, NULL), AW_OK);
    free(v);
    assert_int_equal(s->trusts->perm_get(s, "tr", "p2", &j), AW_OK);
    free(j);
    assert_int_equal(s->trusts->get(s, "tr2", "p1", &t), AW_OK);
    aw_trust_rec_free(&t);
}

/* ------------------------------------------------------------------ transactions */
static void transactions(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    mk_actor(s, "tx", "c");
    char *v = NULL;
    bool js;
    /* Rollback discards every write of the transaction. */
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->props->set(s, "tx", "a", "1", true), AW_OK);
    assert_int_equal(s->attrs->set(s, "tx", "b", "n", "1", NULL, 0), AW_OK);
    mk_actor(s, "tx-new", "c");
    assert_int_equal(s->props->get(s, "tx", "a", &v, &js), AW_OK); /* visible inside */
    free(v);
    s->rollback(s);
    assert_int_equal(s->props->get(s, "tx", "a", &v, &js), AW_ENOTFOUND);
    assert_int_equal(s->attrs->get(s, "tx", "b", "n", &v, NULL), AW_ENOTFOUND);
    aw_actor_rec r;
    assert_int_equal(s->actors->get(s, "tx-new", &r), AW_ENOTFOUND);
    /* Commit keeps them; another connection sees them. */
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->props->set(s, "tx", "a", "1", true), AW_OK);
    assert_int_equal(s->props->set(s, "tx", "b", "2", true), AW_OK);
    assert_int_equal(s->commit(s), AW_OK);
    sqlite3 *db = raw_open(f);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM properties WHERE actor = ?1", "tx"), 2);
    /* Nested begin is an error and leaves the outer transaction usable. */
    assert_int_equal(s->begin(s, false), AW_OK);
    assert_int_not_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->props->get(s, "tx", "a", &v, &js), AW_OK);
    free(v);
    s->rollback(s);
    /* An actor delete inside a caller's transaction is rolled back with it. */
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->actors->delete(s, "tx"), AW_OK);
    assert_int_equal(s->actors->get(s, "tx", &r), AW_ENOTFOUND);
    s->rollback(s);
    assert_int_equal(s->actors->get(s, "tx", &r), AW_OK);
    aw_actor_rec_free(&r);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM properties WHERE actor = ?1", "tx"), 2);
    /* Uncommitted writes are invisible to another connection. */
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->props->set(s, "tx", "c", "3", true), AW_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM properties WHERE actor = ?1", "tx"), 2);
    assert_int_equal(s->commit(s), AW_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM properties WHERE actor = ?1", "tx"), 3);
    sqlite3_close(db);
    /* Rollback without a transaction is harmless. */
    s->rollback(s);
    assert_int_equal(s->props->get(s, "tx", "c", &v, &js), AW_OK);
    free(v);
}

/* Group commit (store/group.h): members are savepoints; a failed member is undone alone; nothing is
 * visible to other connections before group_end; group_end(false) drops everything. */
static void group_commit(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    mk_actor(s, "gc", "c");
    sqlite3 *db = raw_open(f);
    char *v = NULL;
    bool js;
    assert_int_equal(s->group_begin(s), AW_OK);
    assert_int_not_equal(s->group_begin(s), AW_OK); /* one group at a time */
    assert_int_equal(s->begin(s, true), AW_OK);      /* member 1: kept */
    assert_int_equal(s->props->set(s, "gc", "a", "1", true), AW_OK);
    assert_int_equal(s->commit(s), AW_OK);
    assert_int_equal(s->begin(s, true), AW_OK); /* member 2: undone alone */
    assert_int_equal(s->props->set(s, "gc", "b", "2", true), AW_OK);
    s->rollback(s);
    assert_int_equal(s->props->set(s, "gc", "c", "3", true), AW_OK); /* a single call joins the group too */
    assert_int_equal(s->props->get(s, "gc", "a", &v, &js), AW_OK);
    free(v);
    assert_int_equal(s->props->get(s, "gc", "b", &v, &js), AW_ENOTFOUND);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM properties WHERE actor = ?1", "gc"), 0); /* not yet */
    assert_int_equal(s->group_end(s, true), AW_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM properties WHERE actor = ?1", "gc"), 2);
    /* A rolled-back group leaves nothing; the store works as before afterwards. */
    assert_int_equal(s->group_begin(s), AW_OK);
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->props->set(s, "gc", "d", "4", true), AW_OK);
    assert_int_equal(s->commit(s), AW_OK);
    assert_int_equal(s->group_end(s, false), AW_OK);
    assert_int_equal(s->props->get(s, "gc", "d", &v, &js), AW_ENOTFOUND);
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->props->set(s, "gc", "e", "5", true), AW_OK);
    assert_int_equal(s->commit(s), AW_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM properties WHERE actor = ?1", "gc"), 3);
    assert_int_not_equal(s->group_end(s, true), AW_OK); /* no group open */
    sqlite3_close(db);
}

/* Background checkpoints: commits alone (no housekeeping call) keep the WAL bounded, because the
 * checkpoint thread copies it back and SQLite then starts it over (after a RESTART checkpoint when the
 * writes leave no pause for a PASSIVE one to finish). */
static long wal_size(const fx *f)
{
    char p[160];
    snprintf(p, sizeof p, "%s-wal", f->path);
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : 0;
}

static void background_checkpoint(void **state)
{
    fx *f = *state;
    aw_store *s = f->s;
    mk_actor(s, "ck", "c");
    char *big = malloc(6001);
    memset(big, 'x', 6000);
    big[0] = '"';
    big[5999] = '"';
    big[6000] = 0;
    long max_wal = 0;
    for (int round = 0; round < 80; round++) {
        for (int i = 0; i < 100; i++) {
            char name[32];
            snprintf(name, sizeof name, "n%d", i);
            memset(big + 1, 'a' + round % 26, 5998); /* new content: identical rows are not rewritten */
            assert_int_equal(s->attrs->set(s, "ck", "b", name, big, NULL, 0), AW_OK); /* ~3 frames each */
        }
        long w = wal_size(f);
        if (w > max_wal) max_wal = w;
        if (round % 8 == 7) usleep(20 * 1000); /* now and then a pause in writing */
    }
    free(big);
    unsigned runs = 0, restarts = 0;
    aw_sq_ckpt_stats(aw_sq_of(s)->ckpt, &runs, &restarts);
    assert_true(aw_sq_ckpt_running(aw_sq_of(s)->ckpt));
    assert_true(runs >= 2);
    assert_true(restarts <= runs);
    /* 8,000 commits wrote ~24,000 frames (~96 MiB); a WAL that started over stays far below that. */
    assert_true(max_wal < (32L << 20));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
    const struct CMUnitTest tests[] = {
        T(open_migrate_twice), T(newer_schema_refused), T(actors_crud), T(delete_cascade),
        T(properties),         T(attributes),          T(trusts),      T(transactions),
        T(group_commit),       T(background_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
