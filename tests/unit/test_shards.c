/* Linked shards (src/shards.c, aw_app_link_shards): argument checks; a change committed through one shard
 * wakes the delivery of the others, which then claim the waiting cursor at once (their own poll would come
 * a second later); one wake-up stays pending per app; the apps are freed in any order. Two apps on one
 * SQLite file, each attached to its own loop, both loops run by the test thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "app_internal.h"
#include "loop_app.h"
#include "util/time.h"

typedef struct two {
    char dir[64], path[128];
    aw_app *app[2];
    uv_loop_t loop[2];
} two;

static aw_app *new_app(two *t) { return loop_app_new_on(t->path, 0); }

/* Run both loops (or only loop `only`, 0 or 1) for about `ms` milliseconds. */
static void spin(two *t, int only, int ms)
{
    uint64_t end = aw_mono_ms() + (uint64_t)ms;
    while (aw_mono_ms() < end) {
        for (int i = 0; i < 2; i++)
            if (only < 0 || only == i) uv_run(&t->loop[i], UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static char *lease_owner(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT lease_owner FROM subscriptions WHERE subid = 'sub1'", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *v = sqlite3_column_text(st, 0);
    char *out = v ? strdup((const char *)v) : NULL;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static void link_arguments(void **state)
{
    two t = {0};
    snprintf(t.dir, sizeof t.dir, "/tmp/aw-unit-shards-XXXXXX");
    assert_non_null(mkdtemp(t.dir));
    snprintf(t.path, sizeof t.path, "%s/db.sqlite", t.dir);
    aw_app *a = new_app(&t), *b = new_app(&t), *c = new_app(&t);
    aw_app *ab[2] = {a, b}, *aa[2] = {a, a}, *an[2] = {a, NULL}, *ac[2] = {a, c}, *cb[2] = {c, b};
    assert_int_equal(aw_app_link_shards(NULL, 2), AW_EINVAL);
    assert_int_equal(aw_app_link_shards(ab, 1), AW_EINVAL);
    assert_int_equal(aw_app_link_shards(aa, 2), AW_EINVAL);
    assert_int_equal(aw_app_link_shards(an, 2), AW_EINVAL);
    assert_int_equal(aw_app_link_shards(ab, 2), AW_OK);
    assert_int_equal(aw_app_link_shards(ac, 2), AW_EINVAL); /* a is linked already */
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(aw_app_attach(c, &loop), AW_OK);
    assert_int_equal(aw_app_link_shards(cb, 2), AW_EINVAL); /* c runs */
    /* one wake-up pending per app, none for the caller itself */
    aw_shards_wake_delivery(a);
    aw_shards_wake_delivery(a);
    assert_true(atomic_load(&b->delivery_wake));
    assert_false(atomic_load(&a->delivery_wake));
    assert_non_null(b->post_head);
    assert_null(b->post_head->next);
    assert_null(a->post_head);
    /* freed in creation order: the link goes with the last; b's queued wake-up is freed with b */
    aw_app_free(a);
    aw_shards_wake_delivery(b); /* alone now: nothing to do, nothing touched */
    aw_app_free(b);
    loop_app_shut(c, &loop);
    aw_app_free(c);
    uv_loop_close(&loop);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", t.dir);
    if (system(cmd) != 0) {}
}

static void change_wakes_the_other_shard(void **state)
{
    two t = {0};
    snprintf(t.dir, sizeof t.dir, "/tmp/aw-unit-shards-XXXXXX");
    assert_non_null(mkdtemp(t.dir));
    snprintf(t.path, sizeof t.path, "%s/db.sqlite", t.dir);
    t.app[0] = new_app(&t);
    t.app[1] = new_app(&t);
    assert_int_equal(aw_app_link_shards(t.app, 2), AW_OK);
    for (int i = 0; i < 2; i++) {
        uv_loop_init(&t.loop[i]);
        assert_int_equal(aw_app_attach(t.app[i], &t.loop[i]), AW_OK);
    }
    spin(&t, -1, 50); /* past the claims each delivery makes when it starts */

    /* A subscriber that takes connections (the kernel's backlog) and never answers: the cursor stays leased
     * to whoever claims it. */
    int lsn = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(lsn, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lsn, 16), 0);
    assert_int_equal(getsockname(lsn, (struct sockaddr *)&sa, &sl), 0);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%u/x", ntohs(sa.sin_port));

    /* A publisher record, and a change committed through shard 0 (its registration wakes the cursor). */
    aw_store *s = t.app[0]->store;
    const char *A = "shardaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    aw_actor_rec a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "%s", A);
    a.creator = (char *)"c";
    a.passphrase = (char *)"pass";
    assert_int_equal(s->actors->create(s, &a), AW_OK);
    aw_trust_rec tr = {.actor = (char *)A, .peerid = (char *)"peer1", .baseuri = base,
                       .type = (char *)"urn:x", .relationship = (char *)"friend", .secret = (char *)"secret-1",
                       .desc = (char *)"d", .approved = true};
    assert_int_equal(s->trusts->upsert(s, &tr), AW_OK);
    aw_sub_rec rec = {.actor = (char *)A, .subid = (char *)"sub1", .peerid = (char *)"peer1",
                      .target = (char *)"properties", .granularity = (char *)"high", .accept_encoding = (char *)""};
    assert_int_equal(s->subs->create(s, &rec), AW_OK);
    int64_t seq = 0;
    assert_int_equal(s->begin(s, true), AW_OK);
    assert_int_equal(s->subs->next_seq(s, A, "sub1", &seq), AW_OK);
    assert_int_equal(s->subs->diff_add(s, A, "sub1", seq, "2026-01-01T00:00:00", "{\"k\":1}"), AW_OK);
    assert_int_equal(s->outbox->cursor_wake(s, A, "sub1", aw_time_ms()), AW_OK);
    assert_int_equal(s->commit(s), AW_OK);
    char *owner = lease_owner(t.path);
    assert_null(owner);

    /* As after a change's commit (aw_delivery_changed, then the claim timer): shard 0 wakes shard 1. Only
     * shard 1's loop runs, for far less than its poll interval (a second): the wake-up made it claim. */
    aw_shards_wake_delivery(t.app[0]);
    uint64_t until = aw_mono_ms() + 500; /* half the poll interval */
    while (!owner && aw_mono_ms() < until) {
        spin(&t, 1, 1);
        free(owner);
        owner = lease_owner(t.path);
    }
    assert_non_null(owner);
    assert_string_equal(owner, t.app[1]->shard_id);
    assert_false(atomic_load(&t.app[1]->delivery_wake));
    free(owner);

    /* Freed in the reverse order this time. */
    for (int i = 1; i >= 0; i--) {
        loop_app_shut(t.app[i], &t.loop[i]);
        aw_app_free(t.app[i]);
        uv_loop_close(&t.loop[i]);
    }
    close(lsn);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf %s", t.dir);
    if (system(cmd) != 0) {}
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(link_arguments),
        cmocka_unit_test(change_wakes_the_other_shard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
