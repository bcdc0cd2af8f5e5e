/* The public trust API (actingweb/trust.h): sync forms from a client thread against one app serving two
 * actors over loopback, async forms from the loop, and the argument/thread rules. */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <actingweb/actingweb.h>

#include "served_app.h"

static served_app srv;
static aw_app *app;
static const char *base;

static int setup(void **st)
{
    int r = served_start(&srv, "trust-api", NULL);
    app = srv.app;
    base = srv.base;
    return r;
}

static int teardown(void **st) { return served_stop(&srv); }

static void make_actor(actor *a) { assert_int_equal(served_actor(&srv, a), 0); }

/* GET {a}/trust/{rel}/{peer} as a's creator: the HTTP status, and the record in *out when wanted. */
static int http_record(const actor *a, const char *rel, const char *peer, json_t **out)
{
    char url[300];
    snprintf(url, sizeof url, "%s/trust/%s/%s", a->url, rel, peer);
    aw_peer_request r = {.method = "GET", .url = url, .basic_user = "creator", .basic_pass = a->pass};
    aw_result *res = NULL;
    aw_peer_request_sync(app, &r, NULL, &res);
    int code = aw_result_http_status(res);
    if (out) *out = json_incref(aw_result_json(res));
    aw_result_unref(res);
    return code;
}

static void test_sync_lifecycle(void **st)
{
    actor a, b;
    make_actor(&a);
    make_actor(&b);
    aw_result *res = NULL;
    assert_int_equal(aw_trust_create_reciprocal(app, a.id, b.url, "friend", "via C", NULL, &res), AW_OK);
    json_t *p = aw_result_payload(res);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "peerid")), b.id);
    assert_true(json_is_true(json_object_get(p, "approved")));
    assert_true(json_is_false(json_object_get(p, "peer_approved")));
    assert_int_equal(aw_result_http_status(res), 202);
    aw_result_unref(res);

    json_t *rb = NULL;
    assert_int_equal(http_record(&b, "friend", a.id, &rb), 202);
    assert_true(json_is_true(json_object_get(rb, "verified")));
    json_decref(rb);

    assert_int_equal(aw_trust_approve(app, b.id, a.id, NULL, NULL, &res), AW_OK);
    assert_true(json_is_true(json_object_get(aw_result_payload(res), "approved")));
    assert_int_equal(aw_result_http_status(res), 204); /* the notice reached A */
    aw_result_unref(res);
    json_t *ra = NULL;
    assert_int_equal(http_record(&a, "friend", b.id, &ra), 200);
    assert_true(json_is_true(json_object_get(ra, "peer_approved")));
    json_decref(ra);

    /* Un-approving is refused. */
    json_t *ch = json_pack("{s:b}", "approved", 0);
    assert_int_equal(aw_trust_approve(app, b.id, a.id, ch, NULL, NULL), AW_EINVAL);
    json_decref(ch);

    assert_int_equal(aw_trust_delete(app, a.id, b.id, 1, NULL, &res), AW_OK);
    assert_string_equal(json_string_value(json_object_get(aw_result_payload(res), "peerid")), b.id);
    aw_result_unref(res);
    assert_int_equal(http_record(&a, "friend", b.id, NULL), 404);
    assert_int_equal(http_record(&b, "friend", a.id, NULL), 404);
    assert_int_equal(aw_trust_delete(app, a.id, b.id, 1, NULL, NULL), AW_ENOTFOUND);
}

static void test_sync_errors(void **st)
{
    actor a;
    make_actor(&a);
    aw_result *res = NULL;
    assert_int_equal(aw_trust_create_reciprocal(app, a.id, "ftp://x/y", NULL, NULL, NULL, &res), AW_EINVAL);
    aw_result_unref(res);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/%s", free_port(), a.id);
    assert_int_equal(aw_trust_create_reciprocal(app, a.id, url, NULL, NULL, NULL, NULL), AW_ENET);
    assert_int_equal(aw_trust_approve(app, a.id, "nobody", NULL, NULL, NULL), AW_ENOTFOUND);
    assert_int_equal(aw_trust_accept_verified(app, a.id, "friend", NULL, NULL, NULL), AW_EINVAL);
    json_t *req = json_pack("{s:s,s:s,s:s}", "baseuri", "http://127.0.0.1:1/" "0123456789abcdef0123456789abcdef",
                            "id", "0123456789abcdef0123456789abcdef", "secret", "s3cr3t-s3cr3t-s3cr3t");
    assert_int_equal(aw_trust_accept_verified(app, a.id, "friend", req, NULL, &res), AW_OK);
    assert_true(json_is_false(json_object_get(aw_result_payload(res), "verified")));
    assert_true(json_is_false(json_object_get(aw_result_payload(res), "approved")));
    aw_result_unref(res);
    json_decref(req);
    assert_int_equal(aw_trust_delete(app, a.id, "0123456789abcdef0123456789abcdef", 0, NULL, NULL), AW_OK);
}

/* opts->deadline_ms bounds the whole operation, here against a listener that never answers. */
static void test_deadline(void **st)
{
    actor a;
    make_actor(&a);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof sa;
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 16), 0);
    getsockname(ls, (struct sockaddr *)&sa, &l);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/0123456789abcdef0123456789abcdef", ntohs(sa.sin_port));
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.deadline_ms = 300;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    aw_result *res = NULL;
    assert_int_equal(aw_trust_create_reciprocal(app, a.id, url, "friend", NULL, &o, &res), AW_ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms < 2000);
    assert_null(aw_result_payload(res));
    aw_result_unref(res);
    close(ls);
}

/* Async forms started on the loop: the callback never runs inside the start call; sync forms refuse;
 * a cancelled handshake completes with AW_ECANCELED and its records are removed again. */
typedef struct async_ctx {
    actor a, b;
    int in_start;
    int st_missing, st_cancel, wouldblock;
    int n_done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} async_ctx;

static void note(async_ctx *c, int *slot, int v)
{
    pthread_mutex_lock(&c->mu);
    *slot = v;
    c->n_done++;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void missing_done(const aw_result *res, void *ud)
{
    async_ctx *c = ud;
    note(c, &c->st_missing, c->in_start ? 999 : aw_result_status(res));
}

static void cancel_done(const aw_result *res, void *ud)
{
    async_ctx *c = ud;
    note(c, &c->st_cancel, c->in_start ? 999 : aw_result_status(res));
}

static void on_loop(const aw_result *res, void *ud)
{
    async_ctx *c = ud;
    c->in_start = 1;
    int r1 = aw_trust_delete_async(app, c->a.id, "nobody", 1, NULL, missing_done, c, NULL);
    aw_op *op = NULL;
    int r2 = aw_trust_create_reciprocal_async(app, c->a.id, c->b.url, "friend", NULL, NULL, cancel_done, c, &op);
    c->in_start = 0;
    c->wouldblock = aw_trust_delete(app, c->a.id, "nobody", 0, NULL, NULL);
    if (r1 != AW_OK) note(c, &c->st_missing, 1000 + r1);
    if (r2 != AW_OK) note(c, &c->st_cancel, 1000 + r2);
    if (op) {
        aw_op_cancel(op);
        assert_int_equal(aw_op_cancel(op), AW_EALREADY);
        aw_op_unref(op);
    }
}

static void test_async_on_loop(void **st)
{
    async_ctx c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    make_actor(&c.a);
    make_actor(&c.b);
    aw_peer_request r = {.method = "GET", .url = base};
    assert_int_equal(aw_peer_request_async(app, &r, NULL, on_loop, &c, NULL), AW_OK);
    pthread_mutex_lock(&c.mu);
    while (c.n_done < 2) pthread_cond_wait(&c.cv, &c.mu);
    pthread_mutex_unlock(&c.mu);
    assert_int_equal(c.st_missing, AW_ENOTFOUND);
    assert_int_equal(c.st_cancel, AW_ECANCELED);
    assert_int_equal(c.wouldblock, AW_EWOULDBLOCK);
    /* Compensation: whatever the handshake reached, no record is left on either side. */
    int left = 1;
    for (int i = 0; i < 300 && left; i++) {
        left = http_record(&c.a, "friend", c.b.id, NULL) != 404 || http_record(&c.b, "friend", c.a.id, NULL) != 404;
        if (left) usleep(10000);
    }
    assert_int_equal(left, 0);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_lifecycle),
        cmocka_unit_test(test_sync_errors),
        cmocka_unit_test(test_async_on_loop),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
