/* Peer requests against a scripted raw TCP peer: what goes on the wire and how odd but legal answers
 * are read (chunked, HTTP/1.0 to the close, 100 Continue, HEAD, Connection: close), keep-alive reuse,
 * a kept connection the peer dropped (sent again on a new one), malformed and oversized answers, a host
 * name. ctest runs it for the built-in HTTP/1.1 client and again through libcurl (.curl): both transports
 * must agree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#pragma GCC diagnostic ignored "-Wunused-function"
#include "peer_fixture.h"

/* ---------------- the scripted peer: one thread per connection ---------------- */

typedef struct raw_peer {
    int lfd;
    uint16_t port;
    pthread_t th;
    atomic_int accepts, requests;
    pthread_mutex_t mu;
    char last[4096]; /* the last request's bytes (head and body) */
} raw_peer;

static raw_peer RP;

typedef struct { raw_peer *rp; int fd; } rp_conn;

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        s += w, n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s) { send_all(fd, s, strlen(s)); }

static void *rp_conn_main(void *arg)
{
    rp_conn *cc = arg;
    raw_peer *rp = cc->rp;
    int fd = cc->fd;
    free(cc);
    char buf[8192];
    size_t len = 0;
    int nreq = 0;
    for (;;) {
        char *end = NULL;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len == sizeof buf) goto out;
            ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
            if (r <= 0) goto out;
            len += (size_t)r;
        }
        size_t head = (size_t)(end + 4 - buf), clen = 0;
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl && cl < end) clen = strtoul(cl + 17, NULL, 10);
        while (len < head + clen) {
            ssize_t r = recv(fd, buf + len, sizeof buf - len, 0);
            if (r <= 0) goto out;
            len += (size_t)r;
        }
        nreq++;
        atomic_fetch_add(&rp->requests, 1);
        pthread_mutex_lock(&rp->mu);
        size_t keep = head + clen < sizeof rp->last - 1 ? head + clen : sizeof rp->last - 1;
        memcpy(rp->last, buf, keep);
        rp->last[keep] = 0;
        pthread_mutex_unlock(&rp->mu);
        char path[256] = "";
        sscanf(buf, "%*s %255s", path);
        bool head_req = !strncmp(buf, "HEAD ", 5);
        memmove(buf, buf + head + clen, len - head - clen);
        len -= head + clen;

        if (!strcmp(path, "/chunked")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "5\r\n{\"a\":\r\n");
            usleep(20000); /* the rest in a later segment */
            send_str(fd, "3\r\n12}\r\n0\r\n\r\n");
        } else if (!strcmp(path, "/http10")) {
            send_str(fd, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"v\":");
            usleep(20000);
            send_str(fd, "10}");
            goto out;
        } else if (!strcmp(path, "/continue")) {
            send_str(fd, "HTTP/1.1 100 Continue\r\n\r\n");
            usleep(10000);
            send_str(fd, "HTTP/1.1 201 Created\r\nLocation: http://example.test/x/1\r\nContent-Length: 2\r\n\r\n{}");
        } else if (!strcmp(path, "/close")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n{\"ok\":true}");
            goto out;
        } else if (!strcmp(path, "/garbage")) {
            send_str(fd, "SSH-2.0-OpenSSH_9.2\r\nnot http at all\r\n\r\n");
            goto out;
        } else if (!strcmp(path, "/bigcl")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\nxxxx");
            usleep(300000);
            goto out;
        } else if (!strcmp(path, "/bigchunks")) {
            send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            char chunk[600];
            memset(chunk, 'x', sizeof chunk);
            memcpy(chunk, "200\r\n", 5);
            memcpy(chunk + 5 + 512, "\r\n", 2);
            for (int i = 0; i < 8; i++) send_all(fd, chunk, 5 + 512 + 2);
            usleep(300000);
            goto out;
        } else if (!strcmp(path, "/head") && head_req) {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n");
        } else if (!strcmp(path, "/closelater")) { /* kept open by the answer, closed by the peer soon after */
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}");
            usleep(50000);
            goto out;
        } else if (!strcmp(path, "/dropsecond") && nreq == 2) {
            goto out; /* a kept connection the peer dropped just as the next request came */
        } else if (!strcmp(path, "/retryafter")) {
            send_str(fd, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 2\r\n\r\n{}");
        } else {
            send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}");
        }
    }
out:
    close(fd);
    return NULL;
}

static void *rp_main(void *arg)
{
    raw_peer *rp = arg;
    for (;;) {
        int fd = accept(rp->lfd, NULL, NULL);
        if (fd < 0) return NULL; /* listener shut down */
        atomic_fetch_add(&rp->accepts, 1);
        rp_conn *cc = malloc(sizeof *cc);
        cc->rp = rp;
        cc->fd = fd;
        pthread_t t;
        pthread_create(&t, NULL, rp_conn_main, cc);
        pthread_detach(t);
    }
}

static int rp_start(raw_peer *rp)
{
    memset(rp, 0, sizeof *rp);
    pthread_mutex_init(&rp->mu, NULL);
    rp->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(rp->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (bind(rp->lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(rp->lfd, 64) != 0) return -1;
    socklen_t l = sizeof sa;
    getsockname(rp->lfd, (struct sockaddr *)&sa, &l);
    rp->port = ntohs(sa.sin_port);
    return pthread_create(&rp->th, NULL, rp_main, rp);
}

static void rp_stop(raw_peer *rp)
{
    shutdown(rp->lfd, SHUT_RDWR);
    close(rp->lfd);
    pthread_join(rp->th, NULL);
    usleep(50000); /* connection threads finish their sleeps */
}

/* ---------------- calls ---------------- */

typedef struct call {
    atomic_bool done;
    atomic_int calls;
    int status, http, attempts;
    uint32_t retry_after;
    char body[256];
    char location[128];
    char msg[512];
} call;

static void on_done(const aw_result *res, void *ud)
{
    call *c = ud;
    atomic_fetch_add(&c->calls, 1);
    c->status = aw_result_status(res);
    c->http = aw_result_http_status(res);
    c->attempts = (int)aw_result_attempts(res);
    c->retry_after = aw_result_retry_after_ms(res);
    size_t n;
    const char *b = aw_result_body(res, &n);
    snprintf(c->body, sizeof c->body, "%.*s", b ? (int)n : 0, b ? b : "");
    snprintf(c->location, sizeof c->location, "%s", aw_result_location(res) ? aw_result_location(res) : "");
    snprintf(c->msg, sizeof c->msg, "%s", aw_result_message(res));
    atomic_store(&c->done, true);
}

static const aw_retry_policy ONCE = {1, 0};

/* method path on the raw peer at `host` (NULL = 127.0.0.1); runs the loop until the callback ran. */
static void call_raw(test_app *ta, call *c, const char *method, const char *host, const char *path,
                     json_t *body)
{
    char url[256];
    snprintf(url, sizeof url, "http://%s:%u%s", host ? host : "127.0.0.1", RP.port, path);
    aw_peer_request req = {.method = method, .url = url, .json = body};
    aw_call_opts o = AW_CALL_OPTS_INIT;
    o.retry = &ONCE;
    o.deadline_ms = 5000;
    memset(c, 0, sizeof *c);
    assert_int_equal(aw_peer_request_async(ta->app, &req, &o, on_done, c, NULL), AW_OK);
    assert_false(atomic_load(&c->done));
    assert_true(ta_run_until(ta, &c->done, 8000));
    assert_int_equal(atomic_load(&c->calls), 1);
}

static void last_request(char *out, size_t n)
{
    pthread_mutex_lock(&RP.mu);
    snprintf(out, n, "%s", RP.last);
    pthread_mutex_unlock(&RP.mu);
}

/* ---------------- tests ---------------- */

static void test_request_bytes(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    json_t *body = json_pack("{s:i}", "n", 7);
    call_raw(&ta, &c, "POST", NULL, "/echo?a=1&b=2", body);
    json_decref(body);
    assert_int_equal(c.status, AW_OK);
    char raw[4096], host[64];
    last_request(raw, sizeof raw);
    assert_true(!strncmp(raw, "POST /echo?a=1&b=2 HTTP/1.1\r\n", 29));
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%u\r\n", RP.port);
    assert_non_null(strstr(raw, host));
    assert_non_null(strcasestr(raw, "\r\nContent-Length: 7\r\n"));
    assert_non_null(strcasestr(raw, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strcasestr(raw, "\r\nX-Request-ID: "));
    assert_non_null(strstr(raw, "\r\n\r\n{\"n\":7}"));
    /* a bodiless PUT still says how long its (empty) body is */
    call_raw(&ta, &c, "PUT", NULL, "/x", NULL);
    last_request(raw, sizeof raw);
    assert_true(!strncmp(raw, "PUT /x HTTP/1.1\r\n", 17));
    assert_non_null(strcasestr(raw, "\r\nContent-Length: 0\r\n"));
    /* GET carries no body headers */
    call_raw(&ta, &c, "GET", NULL, "/x", NULL);
    last_request(raw, sizeof raw);
    assert_null(strcasestr(raw, "Content-Length"));
    ta_close(&ta);
}

static void test_keepalive_and_close(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    int a0 = atomic_load(&RP.accepts);
    for (int i = 0; i < 3; i++) {
        call_raw(&ta, &c, "GET", NULL, "/ok", NULL);
        assert_int_equal(c.status, AW_OK);
        assert_string_equal(c.body, "{\"ok\":true}");
    }
    assert_int_equal(atomic_load(&RP.accepts) - a0, 1); /* one connection, kept */
    call_raw(&ta, &c, "GET", NULL, "/close", NULL);     /* answered with Connection: close */
    assert_int_equal(c.status, AW_OK);
    call_raw(&ta, &c, "GET", NULL, "/ok", NULL);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(atomic_load(&RP.accepts) - a0, 2);
    ta_close(&ta);
}

static void test_dropped_kept_connection(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    int a0 = atomic_load(&RP.accepts);
    call_raw(&ta, &c, "GET", NULL, "/dropsecond", NULL);
    assert_int_equal(c.status, AW_OK);
    /* the kept connection is closed by the peer on the next request: sent again on a new connection,
     * within the same (single) attempt */
    call_raw(&ta, &c, "GET", NULL, "/dropsecond", NULL);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(c.attempts, 1);
    assert_int_equal(atomic_load(&RP.accepts) - a0, 2);
    /* a kept connection the peer closes while it idles is dropped; the next request opens another */
    call_raw(&ta, &c, "GET", NULL, "/closelater", NULL);
    assert_int_equal(c.status, AW_OK);
    ta_run_ms(&ta, 200);
    call_raw(&ta, &c, "GET", NULL, "/ok", NULL);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(c.attempts, 1);
    assert_int_equal(atomic_load(&RP.accepts) - a0, 3); /* /closelater went on the second connection */
    ta_close(&ta);
}

static void test_answer_framings(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    call_raw(&ta, &c, "GET", NULL, "/chunked", NULL);
    assert_int_equal(c.status, AW_OK);
    assert_string_equal(c.body, "{\"a\":12}");
    call_raw(&ta, &c, "GET", NULL, "/http10", NULL);
    assert_int_equal(c.status, AW_OK);
    assert_string_equal(c.body, "{\"v\":10}");
    call_raw(&ta, &c, "POST", NULL, "/continue", NULL);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(c.http, 201);
    assert_string_equal(c.location, "http://example.test/x/1");
    assert_string_equal(c.body, "{}");
    call_raw(&ta, &c, "HEAD", NULL, "/head", NULL);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(c.http, 200);
    assert_string_equal(c.body, "");
    call_raw(&ta, &c, "GET", NULL, "/retryafter", NULL);
    assert_int_equal(c.status, AW_EPEER);
    assert_int_equal(c.http, 429);
    assert_int_equal(c.retry_after, 7000);
    /* the connection is still good after all of these */
    call_raw(&ta, &c, "GET", NULL, "/ok", NULL);
    assert_int_equal(c.status, AW_OK);
    ta_close(&ta);
}

static void test_bad_answers(void **state)
{
    test_app ta;
    aw_net_config net = {.max_response = 1000};
    ta_open(&ta, &net);
    call c;
    call_raw(&ta, &c, "GET", NULL, "/garbage", NULL);
    assert_int_equal(c.status, AW_EPROTO);
    call_raw(&ta, &c, "GET", NULL, "/bigcl", NULL); /* Content-Length over the cap */
    assert_int_equal(c.status, AW_EPROTO);
    assert_int_equal(c.http, 200); /* the answer's status is kept */
    assert_non_null(strstr(c.msg, "over 1000 bytes"));
    call_raw(&ta, &c, "GET", NULL, "/bigchunks", NULL); /* chunks that add up to more than the cap */
    assert_int_equal(c.status, AW_EPROTO);
    assert_non_null(strstr(c.msg, "over 1000 bytes"));
    call_raw(&ta, &c, "GET", NULL, "/ok", NULL);
    assert_int_equal(c.status, AW_OK);
    ta_close(&ta);
}

static void test_host_name(void **state)
{
    test_app ta;
    ta_open(&ta, NULL);
    call c;
    call_raw(&ta, &c, "GET", "localhost", "/ok", NULL); /* a name lookup (IPv4 tried first) */
    assert_int_equal(c.status, AW_OK);
    char raw[4096], host[64];
    last_request(raw, sizeof raw);
    snprintf(host, sizeof host, "\r\nHost: localhost:%u\r\n", RP.port);
    assert_non_null(strstr(raw, host));
    call_raw(&ta, &c, "GET", "no-such-host.invalid", "/ok", NULL);
    assert_int_equal(c.status, AW_ENET);
    ta_close(&ta);
}

/* More new connections at once than begin per loop turn: all answered; one cancelled while it waits to begin
 * completes with AW_ECANCELED and the others are unaffected. */
static void test_many_new_connections(void **state)
{
    test_app ta;
    aw_net_config net = {.per_origin = 400, .max_outbound = 400};
    ta_open(&ta, &net);
    enum { N = 300 };
    static call calls[N];
    aw_op *last = NULL;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/ok", RP.port);
    int a0 = atomic_load(&RP.accepts);
    for (int i = 0; i < N; i++) {
        aw_peer_request req = {.method = "GET", .url = url};
        memset(&calls[i], 0, sizeof calls[i]);
        assert_int_equal(aw_peer_request_async(ta.app, &req, NULL, on_done, &calls[i], i == N - 1 ? &last : NULL),
                         AW_OK);
    }
    assert_int_equal(aw_op_cancel(last), AW_OK);
    aw_op_unref(last);
    for (int i = 0; i < N; i++) {
        assert_true(ta_run_until(&ta, &calls[i].done, 10000));
        assert_int_equal(atomic_load(&calls[i].calls), 1);
        assert_int_equal(calls[i].status, i == N - 1 ? AW_ECANCELED : AW_OK);
    }
    assert_true(atomic_load(&RP.accepts) - a0 <= N); /* the cancelled one may or may not have connected */
    ta_close(&ta);
}

/* The built-in client keeps at most net.max_outbound idle connections in all (libcurl has its own rule). */
static void test_idle_cap(void **state)
{
    const char *via_curl = getenv("AW_PEER_CURL_FOR_HTTP");
    if (via_curl && *via_curl == '1') skip();
    test_app ta;
    aw_net_config net = {.max_outbound = 1};
    ta_open(&ta, &net);
    call c;
    int a0 = atomic_load(&RP.accepts);
    call_raw(&ta, &c, "GET", NULL, "/ok", NULL);
    assert_int_equal(c.status, AW_OK);
    call_raw(&ta, &c, "GET", NULL, "/ok", NULL); /* kept */
    assert_int_equal(atomic_load(&RP.accepts) - a0, 1);
    call_raw(&ta, &c, "GET", "localhost", "/ok", NULL); /* another origin: its connection evicts the first */
    assert_int_equal(c.status, AW_OK);
    call_raw(&ta, &c, "GET", NULL, "/ok", NULL);
    assert_int_equal(c.status, AW_OK);
    assert_int_equal(atomic_load(&RP.accepts) - a0, 3);
    ta_close(&ta);
}

static int setup(void **state) { return rp_start(&RP); }
static int teardown(void **state)
{
    rp_stop(&RP);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_bytes),
        cmocka_unit_test(test_keepalive_and_close),
        cmocka_unit_test(test_dropped_kept_connection),
        cmocka_unit_test(test_answer_framings),
        cmocka_unit_test(test_bad_answers),
        cmocka_unit_test(test_host_name),
        cmocka_unit_test(test_many_new_connections),
        cmocka_unit_test(test_idle_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
