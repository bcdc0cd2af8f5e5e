/* The public subscription API (actingweb/subscriptions.h): sync forms from a client thread and an async
 * form with its callback, against one app serving a publisher and a subscriber actor over loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <actingweb/actingweb.h>

#include "core/mirror_backoff.h"
#include "core/subscriber.h"
#include "served_app.h"

static served_app srv;
static aw_app *app;

/* One HTTP request as a's creator; returns the status and, when wanted, the JSON body. */
static int http(const actor *a, const char *method, const char *path, const char *body, json_t **out)
{
    char url[400];
    snprintf(url, sizeof url, "%s%s", a->url, path);
    aw_peer_request r = {.method = method, .url = url, .basic_user = "creator", .basic_pass = a->pass,
                         .body = body, .body_len = body ? strlen(body) : 0, .content_type = "application/json"};
    aw_result *res = NULL;
    aw_peer_request_sync(app, &r, NULL, &res);
    int code = aw_result_http_status(res);
    if (out) *out = json_incref(aw_result_json(res));
    aw_result_unref(res);
    return code;
}

static void tune(aw_config *cfg)
{
    cfg->devtest = 1;
    cfg->default_relationship = "friend";
    cfg->auto_accept_default = 1;
}

static int setup(void **st)
{
    int r = served_start(&srv, "sub-api", tune);
    app = srv.app;
    return r;
}

static int teardown(void **st) { return served_stop(&srv); }

static void make_actor(actor *a) { assert_int_equal(served_actor(&srv, a), 0); }

/* The subscriber's stored copy of property `name` received from `pub` (NULL when absent). */
static json_t *remote_value(const actor *sub, const actor *pub, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/devtest/attributes/remote:%s/%s", pub->id, name);
    json_t *doc = NULL;
    if (http(sub, "GET", path, NULL, &doc) != 200) {
        json_decref(doc);
        return NULL;
    }
    json_t *d = json_incref(json_object_get(doc, "data"));
    json_decref(doc);
    json_t *v = json_is_object(d) && json_object_get(d, "value") ? json_incref(json_object_get(d, "value")) : json_incref(d);
    json_decref(d);
    return v;
}

static bool wait_remote_int(const actor *sub, const actor *pub, const char *name, json_int_t want)
{
    for (int i = 0; i < 300; i++) {
        json_t *v = remote_value(sub, pub, name);
        bool ok = json_is_integer(v) && json_integer_value(v) == want;
        json_decref(v);
        if (ok) return true;
        usleep(20000);
    }
    return false;
}

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int status;
    char subid[64];
} waiter;

static void on_done(const aw_result *res, void *ud)
{
    waiter *w = ud;
    pthread_mutex_lock(&w->mu);
    w->status = aw_result_status(res);
    const char *id = json_string_value(json_object_get(aw_result_payload(res), "subscriptionid"));
    snprintf(w->subid, sizeof w->subid, "%s", id ? id : "");
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void test_subscribe_deliver_sync_unsubscribe(void **st)
{
    actor a, b;
    make_actor(&a); /* subscriber */
    make_actor(&b); /* publisher */
    assert_int_equal(aw_trust_create_reciprocal(app, a.id, b.url, NULL, NULL, NULL, NULL), AW_OK);
    assert_int_equal(http(&b, "PUT", "/properties/x", "1", NULL), 204);

    aw_sub_scope bad = {.target = NULL};
    assert_int_equal(aw_sub_subscribe(app, a.id, b.id, &bad, NULL, NULL), AW_EINVAL);
    assert_int_equal(aw_sub_subscribe(app, a.id, "nopeer", &(aw_sub_scope){"properties", NULL, NULL, "high"}, NULL,
                                      NULL),
                     AW_ENOTRUST);

    aw_sub_scope scope = {"properties", NULL, NULL, "high"};
    aw_result *res = NULL;
    assert_int_equal(aw_sub_subscribe(app, a.id, b.id, &scope, NULL, &res), AW_OK);
    json_t *p = aw_result_payload(res);
    char subid[64];
    snprintf(subid, sizeof subid, "%s", json_string_value(json_object_get(p, "subscriptionid")));
    assert_int_equal((int)strlen(subid), 32);
    assert_string_equal(json_string_value(json_object_get(p, "peerid")), b.id);
    aw_result_unref(res);
    /* the baseline arrived before the call completed */
    json_t *v = remote_value(&a, &b, "x");
    assert_true(json_is_integer(v) && json_integer_value(v) == 1);
    json_decref(v);

    /* changes arrive by callback */
    assert_int_equal(http(&b, "PUT", "/properties/y", "2", NULL), 204);
    assert_true(wait_remote_int(&a, &b, "y", 2));

    /* pull syncs succeed */
    assert_int_equal(aw_sub_sync(app, a.id, b.id, subid, NULL, NULL), AW_OK);
    assert_int_equal(aw_sub_sync(app, a.id, b.id, NULL, NULL, NULL), AW_OK); /* every mirror at b */

    /* a polling subscription (granularity none) gets no callbacks; its newest diff is sent on demand */
    aw_sub_scope poll = {"properties", "z", NULL, "none"};
    assert_int_equal(aw_sub_create_remote(app, a.id, b.id, &poll, NULL, &res), AW_OK);
    char pollid[64];
    snprintf(pollid, sizeof pollid, "%s", json_string_value(json_object_get(aw_result_payload(res), "subscriptionid")));
    aw_result_unref(res);
    assert_int_equal(aw_sub_callback(app, b.id, pollid, 0, NULL, NULL), AW_ENOTFOUND); /* no diff yet */
    assert_int_equal(http(&b, "PUT", "/properties/z", "7", NULL), 204);
    assert_int_equal(aw_sub_callback(app, b.id, pollid, 0, NULL, &res), AW_OK);
    assert_int_equal(aw_result_http_status(res), 204);
    aw_result_unref(res);
    assert_true(wait_remote_int(&a, &b, "z", 7));
    assert_int_equal(aw_sub_callback(app, b.id, "0123456789abcdef0123456789abcdef", 0, NULL, NULL), AW_ENOTFOUND);
    assert_int_equal(aw_sub_unsubscribe(app, a.id, b.id, pollid, NULL, NULL), AW_OK);

    /* unsubscribe removes both sides and the received data */
    assert_int_equal(aw_sub_unsubscribe(app, a.id, b.id, subid, NULL, NULL), AW_OK);
    json_t *list = NULL;
    char path[200];
    snprintf(path, sizeof path, "/subscriptions/%s", a.id);
    assert_int_equal(http(&b, "GET", path, NULL, &list), 200);
    assert_int_equal(json_array_size(json_object_get(list, "data")), 0);
    json_decref(list);
    assert_null(remote_value(&a, &b, "x"));
    assert_int_equal(aw_sub_unsubscribe(app, a.id, b.id, subid, NULL, NULL), AW_ENOTFOUND);
}

static void test_async_create_remote_and_delete_remote(void **st)
{
    actor a, b;
    make_actor(&a);
    make_actor(&b);
    assert_int_equal(aw_trust_create_reciprocal(app, a.id, b.url, NULL, NULL, NULL, NULL), AW_OK);
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, ""};
    aw_sub_scope scope = {"properties", "work", NULL, "low"};
    aw_op *op = (aw_op *)1;
    assert_int_equal(aw_sub_create_remote_async(app, a.id, b.id, &scope, NULL, on_done, &w, &op), AW_OK);
    assert_null(op); /* started from another thread: no handle */
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    assert_int_equal(w.status, AW_OK);
    assert_int_equal((int)strlen(w.subid), 32);
    /* the publisher ends it from its side: the subscriber's mirror goes too */
    assert_int_equal(aw_sub_delete_remote(app, b.id, a.id, w.subid, NULL, NULL), AW_OK);
    json_t *list = NULL;
    char path[200];
    snprintf(path, sizeof path, "/subscriptions/%s", b.id);
    assert_int_equal(http(&a, "GET", path, NULL, &list), 200);
    assert_int_equal(json_array_size(json_object_get(list, "data")), 0);
    json_decref(list);
}

/* sdk-api.md §5.7 as implemented: a round at most every 2 s; during a stream of callbacks only after a 0.5 s
 * pause, or 10 s after the last round. */
static void test_ack_rule(void **state)
{
    (void)state;
    const uint64_t t = 1000000;                                /* an arbitrary monotonic "now" */
    assert_true(aw_subscriber_ack_due(t, 0, 0));               /* never acknowledged, quiet */
    assert_true(aw_subscriber_ack_due(t, t - 2000, t - 500));  /* interval passed, paused 0.5 s */
    assert_false(aw_subscriber_ack_due(t, t - 1999, t - 5000)); /* quiet, but within the interval */
    assert_false(aw_subscriber_ack_due(t, t - 5000, t - 499)); /* callbacks still arriving */
    assert_false(aw_subscriber_ack_due(t, t - 9999, t));       /* ... for under 10 s */
    assert_true(aw_subscriber_ack_due(t, t - 10000, t));       /* a stream that never pauses: every 10 s */
}

/* The subscriber timer's per-mirror backoff: a failure holds the mirror back for 1 s, 2 s, 4 s ... (±20 %),
 * at most 60 s; a success forgets it; other mirrors are unaffected; long-past entries are swept. */
static void test_mirror_backoff(void **state)
{
    (void)state;
    aw_mirror_backoff *b = aw_mirror_backoff_new();
    assert_non_null(b);
    const int64_t t = 1700000000000LL;
    assert_true(aw_mirror_backoff_due(b, "a1", "s1", t));
    const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (unsigned f = 1; f <= 8; f++) {
        aw_mirror_backoff_note(b, "a1", "s1", false, t);
        assert_int_equal(aw_mirror_backoff_fails(b, "a1", "s1"), f);
        int64_t lo = want[f - 1] - want[f - 1] / 5, hi = want[f - 1] + want[f - 1] / 5;
        assert_false(aw_mirror_backoff_due(b, "a1", "s1", t + lo - 1));
        assert_true(aw_mirror_backoff_due(b, "a1", "s1", t + hi));
    }
    assert_true(aw_mirror_backoff_due(b, "a1", "s2", t)); /* another mirror */
    assert_true(aw_mirror_backoff_due(b, "a2", "s1", t));
    aw_mirror_backoff_note(b, "a1", "s1", true, t); /* a success forgets the failures */
    assert_int_equal(aw_mirror_backoff_fails(b, "a1", "s1"), 0);
    assert_true(aw_mirror_backoff_due(b, "a1", "s1", t));
    aw_mirror_backoff_note(b, "a1", "s1", false, t);
    aw_mirror_backoff_note(b, "a3", "s3", false, t + 700000);
    aw_mirror_backoff_sweep(b, t + 700000); /* a1/s1's try was due ~699 s earlier: its mirror is gone */
    assert_int_equal(aw_mirror_backoff_fails(b, "a1", "s1"), 0);
    assert_int_equal(aw_mirror_backoff_fails(b, "a3", "s3"), 1);
    aw_mirror_backoff_free(b);
    assert_true(aw_mirror_backoff_due(NULL, "a1", "s1", t)); /* no table: always due */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribe_deliver_sync_unsubscribe),
        cmocka_unit_test(test_async_create_remote_and_delete_remote),
    };
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_ack_rule),
        cmocka_unit_test(test_mirror_backoff),
    };
    int failed = cmocka_run_group_tests(pure, NULL, NULL);
    return failed + cmocka_run_group_tests(tests, setup, teardown);
}
