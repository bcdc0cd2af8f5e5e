/* Peer engine: async contract, errors, retries, cancel, timeouts, gates, gather, sync forms, meta. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "peer_fixture.h"
#include "peer/internal.h"

static peer_fixture FX;

typedef struct call {
    atomic_bool done;
    atomic_int calls;
    int status, http, attempts;
    aw_remote_state remote;
    uint32_t retry_after;
    json_t *json, *payload;
    char body[256];
    char location[128];
    char msg[512];
    bool in_start; /* set while the start call runs */
    bool cb_in_start;
    uint64_t t0, t1;
} call;

static uint64_t now_ms(void) { return uv_hrtime() / 1000000; }

static void on_done(const aw_result *res, void *ud)
{
    call *c = ud;
    if (c->in_start) c->cb_in_start = true;
    atomic_fetch_add(&c->calls, 1);
    c->status = aw_result_status(res);
    c->http = aw_result_http_status(res);
    c->attempts = (int)aw_result_attempts(res);
    c->remote = aw_result_remote_state(res);
    c->retry_after = aw_result_retry_after_ms(res);
    c->json = json_incref(aw_result_json(res));
    c->payload = json_incref(aw_result_payload(res));
    size_t n;
    const char *b = aw_result_body(res, &n);
    snprintf(c->body, sizeof c->body, "%s", b ? b : "");
    snprintf(c->location, sizeof c->location, "%s", aw_result_location(res) ? aw_result_location(res) : "");
    snprintf(c->msg, sizeof c->msg, "%s", aw_result_message(res));
    c->t1 = now_ms();
    atomic_store(&c->done, true);
}

static void call_clear(call *c)
{
    json_decref(c->json);
    json_decref(c->payload);
    memset(c, 0, sizeof *c);
}

static const aw_retry_policy FAST = {3, 20};

static int start_req(test_app *ta, call *c, const char *method, const char *path_or_url, aw_op **op,
                     const aw_call_opts *opts, aw_idempotency idem)
{
    char url[256];
    if (path_or_url[0] == '/') snprintf(url, sizeof url, "%s%s", FX.base, path_or_url);
    else snprintf(url, sizeof url, "%s", path_or_url);
    aw_peer_request req = {.method = method, .url = url, .idempotency = idem};
    memset(c, 0, sizeof *c);
    c->t0 = now_ms();
    c->in_start = true;
    int r = aw_peer_request_async(ta->app, &req, opts, on_done, c, op);
    c->in_start = false;
    return r;
}

static void run_one(test_app *ta, call *c, const char *method, const char *path, const aw_call_opts *opts,
                    aw_idempotency idem)
{
    assert_int_equal(start_req(ta, c, method, path, NULL, opts, idem), AW_OK);
    assert_false(atomic_load(&c->done)); /* never inside the start call */
    assert_true(ta_run_until(ta, &c->done, 15000));
    ta_run_ms(ta, 20);
    assert_int_equal(atomic_load(&c->calls), 1);
    assert_false(c->cb_in_start);
}

static void test_ok_json(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    run_one(&ta, &c, "GET", "/ok/x", NULL, 0);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(c.http, 200);
    assert_non_null(c.json);
    assert_true(json_is_true(json_object_get(c.json, "ok")));
    assert_int_equal(c.attempts, 1);
    assert_int_equal(c.remote, AW_REMOTE_APPLIED);
    call_clear(&c);
    ta_close(&ta);
}

static void test_headers_body_location(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    char url[128];
    snprintf(url, sizeof url, "%s/echo", FX.base);
    json_t *body = json_pack("{s:i}", "n", 7);
    aw_peer_request req = {.method = "POST", .url = url, .bearer = "s3cret", .json = body};
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.parent_request_id = "parent-123";
    memset(&c, 0, sizeof c);
    assert_int_equal(aw_peer_request_async(ta.app, &req, &o, on_done, &c, NULL), AW_OK);
    json_decref(body);
    assert_true(ta_run_until(&ta, &c.done, 5000));
    assert_int_equal(c.status, AW_OK);
    assert_string_equal(json_string_value(json_object_get(c.json, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(c.json, "parent")), "parent-123");
    assert_true(strlen(json_string_value(json_object_get(c.json, "rid"))) >= 16);
    assert_true(json_is_true(json_object_get(c.json, "has_auth")));
    assert_string_equal(json_string_value(json_object_get(c.json, "body")), "{\"n\":7}");
    assert_string_equal(json_string_value(json_object_get(c.json, "ctype")), "application/json");
    assert_string_equal(json_string_value(json_object_get(c.json, "accept")), "application/json");
    assert_string_equal(c.location, "http://example.test/new");
    assert_null(strstr(c.msg, "s3cret"));
    char rid1[80];
    snprintf(rid1, sizeof rid1, "%s", json_string_value(json_object_get(c.json, "rid")));
    call_clear(&c);
    /* a new X-Request-ID per request */
    run_one(&ta, &c, "GET", "/echo", NULL, 0);
    assert_string_not_equal(json_string_value(json_object_get(c.json, "rid")), rid1);
    assert_string_equal(json_string_value(json_object_get(c.json, "parent")), "");
    call_clear(&c);
    /* the caller's Accept line replaces the default; "Accept:" sends none (not even libcurl's) */
    static const char *const html[] = {"X-Extra: 1", "accept: text/html", NULL};
    static const char *const none[] = {"Accept:", NULL};
    const char *const *sets[] = {html, none};
    const char *want[] = {"text/html", ""};
    for (int i = 0; i < 2; i++) {
        aw_peer_request g = {.method = "GET", .url = url, .headers = sets[i]};
        memset(&c, 0, sizeof c);
        assert_int_equal(aw_peer_request_async(ta.app, &g, NULL, on_done, &c, NULL), AW_OK);
        assert_true(ta_run_until(&ta, &c.done, 5000));
        assert_int_equal(c.status, AW_OK);
        assert_string_equal(json_string_value(json_object_get(c.json, "accept")), want[i]);
        call_clear(&c);
    }
    ta_close(&ta);
}

static void test_peer_error_kept(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    run_one(&ta, &c, "GET", "/status/500", NULL, 0);
    assert_int_equal(c.status, AW_EPEER);
    assert_int_equal(c.http, 500);
    assert_int_equal(c.attempts, 1); /* 500 is not retried */
    assert_non_null(c.json);
    call_clear(&c);
    run_one(&ta, &c, "GET", "/status/404", NULL, 0);
    assert_int_equal(c.status, AW_EPEER);
    assert_int_equal(c.http, 404);
    assert_int_equal(c.attempts, 1);
    call_clear(&c);
    ta_close(&ta);
}

static void test_retries(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.retry = &FAST;
    FX.flaky_fails = 2;
    atomic_store(&FX.flaky_count, 0);
    run_one(&ta, &c, "GET", "/flaky", &o, 0);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(c.attempts, 3);
    call_clear(&c);
    /* 503 three times: EPEER after 3 attempts */
    run_one(&ta, &c, "PUT", "/status/503", &o, 0);
    assert_int_equal(c.status, AW_EPEER);
    assert_int_equal(c.http, 503);
    assert_int_equal(c.attempts, 3);
    call_clear(&c);
    /* POST is not retried on 503, unless idempotent by protocol */
    run_one(&ta, &c, "POST", "/status/503", &o, 0);
    assert_int_equal(c.attempts, 1);
    call_clear(&c);
    run_one(&ta, &c, "POST", "/status/503", &o, AW_IDEMP_SAFE);
    assert_int_equal(c.attempts, 3);
    call_clear(&c);
    run_one(&ta, &c, "GET", "/status/503", &o, AW_IDEMP_NEVER);
    assert_int_equal(c.attempts, 1);
    call_clear(&c);
    /* default backoff: 500 ms then 1000 ms (±20 %) */
    FX.flaky_fails = 1;
    atomic_store(&FX.flaky_count, 0);
    run_one(&ta, &c, "GET", "/flaky", NULL, 0);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(c.attempts, 2);
    assert_true(c.t1 - c.t0 >= 390 && c.t1 - c.t0 < 1500);
    call_clear(&c);
    ta_close(&ta);
}

static void test_refused(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    char url[80];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", fx_refused_port());
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.retry = &FAST;
    run_one(&ta, &c, "GET", url, &o, 0);
    assert_int_equal(c.status, AW_ENET);
    assert_int_equal(c.http, 0);
    assert_int_equal(c.attempts, 3);
    assert_int_equal(c.remote, AW_REMOTE_NONE);
    call_clear(&c);
    /* a POST that provably never left is retried */
    run_one(&ta, &c, "POST", url, &o, 0);
    assert_int_equal(c.status, AW_ENET);
    assert_int_equal(c.attempts, 3);
    call_clear(&c);
    ta_close(&ta);
}

static void test_timeout_never_answers(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.deadline_ms = 300;
    run_one(&ta, &c, "GET", "/hang", &o, 0);
    assert_int_equal(c.status, AW_ETIMEDOUT);
    assert_int_equal(c.remote, AW_REMOTE_UNKNOWN);
    assert_true(c.t1 - c.t0 >= 280 && c.t1 - c.t0 < 1000);
    call_clear(&c);
    ta_close(&ta);
}

static void test_not_json_and_cap(void **state)
{
    aw_net_config net = {0};
    net.max_response = 2000;
    test_app ta;
    ta_open(&ta, &net);
    call c;
    run_one(&ta, &c, "GET", "/text", NULL, 0);
    assert_int_equal(c.status, AW_OK);
    assert_null(c.json);
    assert_string_equal(c.body, "hello, not json");
    call_clear(&c);
    FX.big_size = 5000;
    run_one(&ta, &c, "GET", "/big", NULL, 0);
    assert_int_equal(c.status, AW_EPROTO);
    assert_int_equal(c.attempts, 1);
    call_clear(&c);
    FX.big_size = 1500;
    run_one(&ta, &c, "GET", "/big", NULL, 0);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(strlen(c.body), 255);
    call_clear(&c);
    ta_close(&ta);
}

static void test_cancel(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    aw_op *op = NULL;
    assert_int_equal(start_req(&ta, &c, "GET", "/delay/3000", &op, NULL, 0), AW_OK);
    assert_non_null(op);
    ta_run_ms(&ta, 50);
    assert_int_equal(aw_op_cancel(op), AW_OK);
    assert_false(atomic_load(&c.done)); /* delivered on a later loop turn */
    assert_int_equal(aw_op_cancel(op), AW_EALREADY);
    assert_true(ta_run_until(&ta, &c.done, 2000));
    ta_run_ms(&ta, 30);
    assert_int_equal(c.status, AW_ECANCELED);
    assert_int_equal(atomic_load(&c.calls), 1);
    assert_int_equal(aw_op_cancel(op), AW_EALREADY);
    aw_op_unref(op);
    call_clear(&c);
    /* cancel right after start (still before the first loop turn) */
    assert_int_equal(start_req(&ta, &c, "GET", "/ok/y", &op, NULL, 0), AW_OK);
    assert_int_equal(aw_op_cancel(op), AW_OK);
    assert_true(ta_run_until(&ta, &c.done, 2000));
    assert_int_equal(c.status, AW_ECANCELED);
    aw_op_unref(op);
    call_clear(&c);
    /* cancel after completion */
    assert_int_equal(start_req(&ta, &c, "GET", "/ok/z", &op, NULL, 0), AW_OK);
    assert_true(ta_run_until(&ta, &c.done, 2000));
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(aw_op_cancel(op), AW_EALREADY);
    ta_run_ms(&ta, 20);
    assert_int_equal(atomic_load(&c.calls), 1);
    aw_op_unref(op);
    call_clear(&c);
    ta_close(&ta);
}

static void test_retry_after_busy(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.deadline_ms = 1000;
    run_one(&ta, &c, "GET", "/retryafter/5", &o, 0);
    assert_int_equal(c.status, AW_EBUSY);
    assert_int_equal(c.retry_after, 5000);
    assert_int_equal(c.attempts, 1);
    call_clear(&c);
    ta_close(&ta);
}

static void test_invalid_start(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c = {0};
    aw_op *op = (aw_op *)&c;
    aw_peer_request req = {.method = "GET", .url = "ftp://example.com/x"};
    assert_int_equal(aw_peer_request_async(ta.app, &req, NULL, on_done, &c, &op), AW_EINVAL);
    assert_null(op);
    req.url = "not a url";
    assert_int_equal(aw_peer_request_async(ta.app, &req, NULL, on_done, &c, NULL), AW_EINVAL);
    req.url = "http://127.0.0.1:1/x";
    req.bearer = "a\r\nX-Evil: 1";
    assert_int_equal(aw_peer_request_async(ta.app, &req, NULL, on_done, &c, NULL), AW_EINVAL);
    assert_int_equal(aw_peer_meta_get_async(ta.app, "http://h/x/", NULL, on_done, &c, NULL), AW_EINVAL);
    ta_run_ms(&ta, 30);
    assert_int_equal(atomic_load(&c.calls), 0);
    ta_close(&ta);
}

/* ---- per-origin gate and queue wait against the deadline ---- */

static void test_per_origin_limit(void **state)
{
    aw_net_config net = {0};
    net.per_origin = 2;
    test_app ta;
    ta_open(&ta, &net);
    atomic_store(&FX.max_current, 0);
    call c[6];
    uint64_t t0 = now_ms();
    for (int i = 0; i < 6; i++) assert_int_equal(start_req(&ta, &c[i], "GET", "/conc/150", NULL, NULL, 0), AW_OK);
    for (int i = 0; i < 6; i++) assert_true(ta_run_until(&ta, &c[i].done, 5000));
    uint64_t dt = now_ms() - t0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(c[i].status, AW_OK);
        call_clear(&c[i]);
    }
    assert_true(atomic_load(&FX.max_current) <= 2);
    assert_true(dt >= 440);
    /* the wait for a slot counts against the deadline */
    call a, b;
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.deadline_ms = 200;
    aw_call_opts ol = AW_CALL_OPTS_INIT;
    ol.deadline_ms = 2000;
    assert_int_equal(start_req(&ta, &a, "GET", "/delay/1000", NULL, &ol, 0), AW_OK);
    call a2;
    assert_int_equal(start_req(&ta, &a2, "GET", "/delay/1000", NULL, &ol, 0), AW_OK);
    assert_int_equal(start_req(&ta, &b, "GET", "/ok/q", NULL, &o, 0), AW_OK);
    assert_true(ta_run_until(&ta, &b.done, 3000));
    assert_int_equal(b.status, AW_ETIMEDOUT);
    assert_int_equal(b.attempts, 0);
    assert_int_equal(b.remote, AW_REMOTE_NONE);
    assert_true(ta_run_until(&ta, &a.done, 3000));
    assert_true(ta_run_until(&ta, &a2.done, 3000));
    assert_int_equal(a.status, AW_OK);
    call_clear(&a);
    call_clear(&a2);
    call_clear(&b);
    ta_close(&ta);
}


static void test_global_limit(void **state)
{
    aw_net_config net = {0};
    net.max_outbound = 2;
    test_app ta;
    ta_open(&ta, &net);
    atomic_store(&FX.max_current, 0);
    call c[5];
    uint64_t t0 = now_ms();
    for (int i = 0; i < 5; i++) {
        char url[128]; /* two origins: 127.0.0.1 and localhost */
        snprintf(url, sizeof url, "http://%s:%u/conc/120", i % 2 ? "localhost" : "127.0.0.1", FX.port);
        assert_int_equal(start_req(&ta, &c[i], "GET", url, NULL, NULL, 0), AW_OK);
    }
    for (int i = 0; i < 5; i++) assert_true(ta_run_until(&ta, &c[i].done, 5000));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(c[i].status, AW_OK);
        call_clear(&c[i]);
    }
    assert_true(atomic_load(&FX.max_current) <= 2);
    assert_true(now_ms() - t0 >= 350);
    ta_close(&ta);
}

/* ---- gather ---- */

typedef struct gres {
    atomic_bool done;
    int calls;
    size_t n, n_failed;
    int st[16];
    int http[16];
    bool in_seal;
    bool done_in_seal;
} gres;

static void g_done(aw_gather *g, const aw_result *const *results, size_t n, size_t n_failed, void *ud)
{
    gres *r = ud;
    if (r->in_seal) r->done_in_seal = true;
    r->calls++;
    r->n = n;
    r->n_failed = n_failed;
    for (size_t i = 0; i < n && i < 16; i++) {
        r->st[i] = aw_result_status(results[i]);
        r->http[i] = aw_result_http_status(results[i]);
    }
    atomic_store(&r->done, true);
}

static void g_start(test_app *ta, aw_gather *g, const char *path, const aw_call_opts *o)
{
    char url[128];
    if (path[0] == '/') snprintf(url, sizeof url, "%s%s", FX.base, path);
    else snprintf(url, sizeof url, "%s", path);
    aw_done_cb cb;
    void *ud;
    size_t slot = aw_gather_slot(g, &cb, &ud);
    aw_peer_request req = {.method = "GET", .url = url};
    aw_op *op = NULL;
    int r = aw_peer_request_async(ta->app, &req, o, cb, ud, &op);
    if (r != AW_OK) aw_gather_fail(g, slot, r);
    else {
        aw_gather_attach(g, slot, op);
        aw_op_unref(op);
    }
}

static void test_gather_mixed(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    gres r = {0};
    aw_gather *g;
    assert_int_equal(aw_gather_new(ta.app, g_done, &r, NULL, &g), AW_OK);
    aw_call_opts o = AW_CALL_OPTS_INIT;
    aw_retry_policy once = {1, 0};
    o.retry = &once;
    char refused[80];
    snprintf(refused, sizeof refused, "http://127.0.0.1:%u/x", fx_refused_port());
    g_start(&ta, g, "/delay/200", &o);
    g_start(&ta, g, "/status/500", &o);
    g_start(&ta, g, refused, &o);
    g_start(&ta, g, "/text", &o);
    g_start(&ta, g, "ftp://bad", &o); /* fails at start */
    r.in_seal = true;
    aw_gather_seal(g);
    r.in_seal = false;
    assert_true(ta_run_until(&ta, &r.done, 5000));
    ta_run_ms(&ta, 20);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.n_failed, 3);
    assert_int_equal(r.st[0], AW_OK);
    assert_int_equal(r.st[1], AW_EPEER);
    assert_int_equal(r.http[1], 500);
    assert_int_equal(r.st[2], AW_ENET);
    assert_int_equal(r.st[3], AW_OK);
    assert_int_equal(r.st[4], AW_EINVAL);

    /* empty group: done on a later loop turn, not inside seal */
    gres e = {0};
    assert_int_equal(aw_gather_new(ta.app, g_done, &e, NULL, &g), AW_OK);
    e.in_seal = true;
    aw_gather_seal(g);
    e.in_seal = false;
    assert_false(e.done_in_seal);
    assert_true(ta_run_until(&ta, &e.done, 1000));
    assert_int_equal(e.n, 0);

    /* deadline cancels attached running slots */
    gres d = {0};
    aw_gather_opts go = {.deadline_ms = 200};
    assert_int_equal(aw_gather_new(ta.app, g_done, &d, &go, &g), AW_OK);
    g_start(&ta, g, "/hang", NULL);
    g_start(&ta, g, "/ok/fast", NULL);
    aw_gather_seal(g);
    uint64_t t0 = now_ms();
    assert_true(ta_run_until(&ta, &d.done, 3000));
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(d.st[0], AW_ECANCELED);
    assert_int_equal(d.st[1], AW_OK);
    assert_int_equal(d.n_failed, 1);
    ta_close(&ta);
}

static const char *g_paths[] = {"/conc/100", "/conc/100", "/conc/100", "/conc/100", "/conc/100"};

static int g_starter(aw_app *app, void *arg, aw_done_cb cb, void *cb_ud, aw_op **op_out)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", FX.base, (const char *)arg);
    aw_peer_request req = {.method = "GET", .url = url};
    return aw_peer_request_async(app, &req, NULL, cb, cb_ud, op_out);
}

static void test_gather_max_in_flight(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    atomic_store(&FX.max_current, 0);
    gres r = {0};
    aw_gather *g;
    aw_gather_opts go = {.max_in_flight = 2};
    assert_int_equal(aw_gather_new(ta.app, g_done, &r, &go, &g), AW_OK);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 5; i++) aw_gather_add(g, g_starter, (void *)g_paths[i]);
    aw_gather_seal(g);
    assert_true(ta_run_until(&ta, &r.done, 5000));
    assert_true(now_ms() - t0 >= 290);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.n_failed, 0);
    assert_true(atomic_load(&FX.max_current) <= 2);
    ta_close(&ta);
}

/* ---- sync forms ---- */

typedef struct sync_arg {
    aw_app *app;
    int status;
    int http;
    char id[64];
    atomic_bool done;
} sync_arg;

static void sync_thread(void *p)
{
    sync_arg *a = p;
    char url[128];
    snprintf(url, sizeof url, "%s/ok/abc", FX.base);
    aw_result *res = NULL;
    a->status = aw_peer_meta_get(a->app, url, NULL, &res);
    a->http = aw_result_http_status(res);
    json_t *pl = aw_result_payload(res);
    snprintf(a->id, sizeof a->id, "%s", pl ? json_string_value(json_object_get(pl, "id")) : "");
    aw_result_unref(res);
    snprintf(url, sizeof url, "%s/status/409", FX.base);
    aw_peer_request req = {.method = "DELETE", .url = url};
    res = NULL;
    int st = aw_peer_request_sync(a->app, &req, NULL, &res);
    if (st != AW_EPEER || aw_result_http_status(res) != 409) a->status = -999;
    aw_result_unref(res);
    atomic_store(&a->done, true);
}

static void test_sync_forms(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    sync_arg a = {.app = ta.app};
    uv_thread_t th;
    uv_thread_create(&th, sync_thread, &a);
    assert_true(ta_run_until(&ta, &a.done, 5000));
    uv_thread_join(&th);
    assert_int_equal(a.status, AW_OK);
    assert_int_equal(a.http, 200);
    assert_string_equal(a.id, "ok/abc");
    /* on the loop thread: AW_EWOULDBLOCK at once */
    aw_result *res = NULL;
    char url[128];
    snprintf(url, sizeof url, "%s/ok/abc", FX.base);
    assert_int_equal(aw_peer_meta_get(ta.app, url, NULL, &res), AW_EWOULDBLOCK);
    aw_result_unref(res);
    ta_close(&ta);
}

/* ---- meta and URL validation ---- */

static void test_meta(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    char url[128];
    snprintf(url, sizeof url, "%s/ok/actor1", FX.base);
    memset(&c, 0, sizeof c);
    assert_int_equal(aw_peer_meta_get_async(ta.app, url, NULL, on_done, &c, NULL), AW_OK);
    assert_true(ta_run_until(&ta, &c.done, 3000));
    assert_int_equal(c.status, AW_OK);
    assert_non_null(c.payload);
    assert_string_equal(json_string_value(json_object_get(c.payload, "type")), "urn:test:peer");
    call_clear(&c);
    snprintf(url, sizeof url, "%s/badmeta", FX.base);
    assert_int_equal(aw_peer_meta_get_async(ta.app, url, NULL, on_done, &c, NULL), AW_OK);
    assert_true(ta_run_until(&ta, &c.done, 3000));
    assert_int_equal(c.status, AW_EPROTO);
    assert_null(c.payload);
    call_clear(&c);
    snprintf(url, sizeof url, "%s/status/404", FX.base);
    assert_int_equal(aw_peer_meta_get_async(ta.app, url, NULL, on_done, &c, NULL), AW_OK);
    assert_true(ta_run_until(&ta, &c.done, 3000));
    assert_int_equal(c.status, AW_EPEER);
    assert_int_equal(c.http, 404);
    call_clear(&c);
    ta_close(&ta);
}

static void test_url_validate(void **state)
{
    assert_int_equal(aw_peer_url_validate(NULL, "https://peer.example.com/abc"), AW_OK);
    assert_int_equal(aw_peer_url_validate(NULL, "http://127.0.0.1:8080/base/abc"), AW_OK);
    assert_int_equal(aw_peer_url_validate(NULL, "https://peer.example.com/abc/"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(NULL, "https://u:p@peer.example.com/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(NULL, "https://@peer.example.com/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(NULL, "https://peer.example.com/abc?x=1"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(NULL, "https://peer.example.com/abc#f"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(NULL, "ftp://peer.example.com/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(NULL, "peer.example.com/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(NULL, "https://peer.example.com/a b"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(NULL, ""), AW_EINVAL);
    /* validation and the origin key from one parse */
    char *origin = NULL;
    CURLU *cu = NULL;
    assert_int_equal(aw_peer_url_origin_checked(NULL, "https://Peer.Example.com/abc", NULL, &origin, NULL), AW_OK);
    assert_string_equal(origin, "https://peer.example.com:443");
    free(origin);
    assert_int_equal(aw_peer_url_origin_checked(NULL, "https://peer.example.com/abc?x=1", NULL, &origin, &cu),
                     AW_EINVAL);
    assert_null(origin);
    assert_null(cu);
    /* the root is checked, the request URL below it is parsed and handed over (for CURLOPT_CURLU) */
    assert_int_equal(aw_peer_url_origin_checked(NULL, "http://Peer:81/abc", "http://Peer:81/abc/meta", &origin, &cu),
                     AW_OK);
    assert_string_equal(origin, "http://peer:81");
    assert_non_null(cu);
    char *path = NULL;
    assert_int_equal(curl_url_get(cu, CURLUPART_PATH, &path, 0), CURLUE_OK);
    assert_string_equal(path, "/abc/meta");
    curl_free(path);
    curl_url_cleanup(cu);
    free(origin);
    assert_int_equal(aw_url_origin("http://127.0.0.1:8080/a/b?c=1", &origin, NULL), AW_OK);
    assert_string_equal(origin, "http://127.0.0.1:8080");
    free(origin);
    aw_net_config net = {0};
    net.deny_private_peers = 1;
    test_app ta;
    ta_open(&ta, &net);
    assert_int_equal(aw_peer_url_validate(ta.app, "http://127.0.0.1:8080/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(ta.app, "http://10.1.2.3/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(ta.app, "http://192.168.0.1/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(ta.app, "http://localhost/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(ta.app, "http://[::1]/abc"), AW_EINVAL);
    assert_int_equal(aw_peer_url_validate(ta.app, "https://93.184.216.34/abc"), AW_OK);
    /* requests to private addresses are refused at connect time too */
    call c;
    run_one(&ta, &c, "GET", "/ok/x", NULL, 0);
    assert_int_equal(c.status, AW_ENET);
    assert_int_equal(c.attempts, 1);
    call_clear(&c);
    ta_close(&ta);
}


/* ---- async start from another thread: the callback runs on the loop thread ---- */

typedef struct xt {
    test_app *ta;
    call c;
    aw_op *op;
    int start_rc;
    uv_thread_t cb_thread;
    atomic_bool started;
} xt;

static void xt_done(const aw_result *res, void *ud)
{
    xt *x = ud;
    x->cb_thread = uv_thread_self();
    on_done(res, &x->c);
}

static void xt_thread(void *p)
{
    xt *x = p;
    char url[128];
    snprintf(url, sizeof url, "%s/ok/thread", FX.base);
    aw_peer_request req = {.method = "GET", .url = url};
    x->start_rc = aw_peer_request_async(x->ta->app, &req, NULL, xt_done, x, &x->op);
    atomic_store(&x->started, true);
}

static void test_start_other_thread(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    xt x;
    memset(&x, 0, sizeof x);
    x.ta = &ta;
    uv_thread_t th;
    uv_thread_create(&th, xt_thread, &x);
    uv_thread_join(&th); /* the loop is not running: the start is posted */
    assert_int_equal(x.start_rc, AW_OK);
    assert_non_null(x.op);
    assert_true(ta_run_until(&ta, &x.c.done, 3000));
    assert_int_equal(x.c.status, AW_OK);
    uv_thread_t self = uv_thread_self();
    assert_true(uv_thread_equal(&self, &x.cb_thread));
    assert_int_equal(aw_op_cancel(x.op), AW_EALREADY);
    aw_op_unref(x.op);
    call_clear(&x.c);
    /* cancelled on the loop before the posted start ran */
    memset(&x, 0, sizeof x);
    x.ta = &ta;
    uv_thread_create(&th, xt_thread, &x);
    uv_thread_join(&th);
    assert_int_equal(aw_op_cancel(x.op), AW_OK);
    assert_int_equal(aw_op_cancel(x.op), AW_EALREADY);
    assert_true(ta_run_until(&ta, &x.c.done, 3000));
    ta_run_ms(&ta, 20);
    assert_int_equal(x.c.status, AW_ECANCELED);
    assert_int_equal(atomic_load(&x.c.calls), 1);
    aw_op_unref(x.op);
    call_clear(&x.c);
    ta_close(&ta);
}

/* ---- shutdown ---- */

static void test_shutdown(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c, q;
    assert_int_equal(start_req(&ta, &c, "GET", "/hang", NULL, NULL, 0), AW_OK);
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.retry = &FAST;
    char url[80];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/x", fx_refused_port());
    assert_int_equal(start_req(&ta, &q, "GET", url, NULL, &o, 0), AW_OK);
    ta_run_ms(&ta, 50);
    assert_false(atomic_load(&c.done));
    aw_app_close(ta.app, ta_closed, &ta);
    while (!ta.closed) uv_run(&ta.loop, UV_RUN_ONCE);
    assert_int_equal(c.status, AW_ESHUTDOWN);
    assert_int_equal(atomic_load(&c.calls), 1);
    assert_int_equal(atomic_load(&q.calls), 1);
    call d;
    assert_int_equal(start_req(&ta, &d, "GET", "/ok", NULL, NULL, 0), AW_ESHUTDOWN);
    call_clear(&c);
    call_clear(&q);
    uv_close((uv_handle_t *)&ta.tick, NULL);
    uv_run(&ta.loop, UV_RUN_DEFAULT);
    aw_app_free(ta.app);
    assert_int_equal(uv_loop_close(&ta.loop), 0);
    unlink(ta.db);
}

static int setup(void **state) { return fx_start(&FX); }
static int teardown(void **state)
{
    fx_stop(&FX);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_json),
        cmocka_unit_test(test_headers_body_location),
        cmocka_unit_test(test_peer_error_kept),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeout_never_answers),
        cmocka_unit_test(test_not_json_and_cap),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_retry_after_busy),
        cmocka_unit_test(test_invalid_start),
        cmocka_unit_test(test_per_origin_limit),
        cmocka_unit_test(test_global_limit),
        cmocka_unit_test(test_gather_mixed),
        cmocka_unit_test(test_gather_max_in_flight),
        cmocka_unit_test(test_sync_forms),
        cmocka_unit_test(test_meta),
        cmocka_unit_test(test_url_validate),
        cmocka_unit_test(test_start_other_thread),
        cmocka_unit_test(test_shutdown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
