/* Test helpers for the peer engine: a loopback HTTP peer (libmicrohttpd, a thread per connection)
 * whose behaviour is chosen by the request path, and an aw_app attached to the test's own uv loop.
 *
 * Paths:  /ok/...            200 JSON {"ok":true}; a path ending in /meta gets {"id":..,"type":..}
 *         /status/NNN        status NNN with a JSON error body
 *         /delay/MS[/...]    200 after MS milliseconds (same body as /ok)
 *         /conc/MS           as /delay/, counted in current / max_current
 *         /hang              never answers (until the fixture stops)
 *         /text              200 text/plain, not JSON
 *         /big               200 with fx->big_size bytes
 *         /flaky             503 for the first fx->flaky_fails requests, then 200
 *         /retryafter/S      503 with Retry-After: S
 *         /badmeta/meta      200 {"id":""}
 *         /echo              200 JSON: method, request id, parent id, has_auth, body, content type,
 *                            every Accept line ("|"-joined) */
#ifndef AW_TEST_PEER_FIXTURE_H
#define AW_TEST_PEER_FIXTURE_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include <actingweb/actingweb.h>

typedef struct peer_fixture {
    struct MHD_Daemon *d;
    uint16_t port;
    char base[64];                /* http://127.0.0.1:PORT */
    atomic_bool stop;
    atomic_int requests;          /* all requests seen */
    atomic_int current, max_current;
    atomic_int flaky_count;
    int flaky_fails;
    size_t big_size;
    pthread_mutex_t mu;
    char last_rid[80], last_parent[80];
    int last_has_auth;
} peer_fixture;

typedef struct { char *buf; size_t len; } fx_conn;

static enum MHD_Result fx_reply(struct MHD_Connection *c, unsigned code, const char *ctype, const char *body,
                                size_t len, const char *extra_name, const char *extra_val)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", ctype);
    if (extra_name) MHD_add_response_header(r, extra_name, extra_val);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* Every Accept line of a request, joined with "|" (none: ""). */
static enum MHD_Result fx_accepts(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    char *out = cls;
    if (!strcasecmp(key, "Accept"))
        snprintf(out + strlen(out), 256 - strlen(out), "%s%s", *out ? "|" : "", value ? value : "");
    return MHD_YES;
}

static enum MHD_Result fx_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    peer_fixture *fx = cls;
    fx_conn *cc = *con_cls;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_size) {
        cc->buf = realloc(cc->buf, cc->len + *upload_size + 1);
        memcpy(cc->buf + cc->len, upload, *upload_size);
        cc->len += *upload_size;
        cc->buf[cc->len] = 0;
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&fx->requests, 1);
    bool conc = !strncmp(url, "/conc/", 6); /* like /delay/, and counted in current / max_current */
    if (conc) {
        int cur = atomic_fetch_add(&fx->current, 1) + 1;
        int m = atomic_load(&fx->max_current);
        while (cur > m && !atomic_compare_exchange_weak(&fx->max_current, &m, cur)) {}
    }
    const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-ID");
    const char *par = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Parent-Request-ID");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    pthread_mutex_lock(&fx->mu);
    snprintf(fx->last_rid, sizeof fx->last_rid, "%s", rid ? rid : "");
    snprintf(fx->last_parent, sizeof fx->last_parent, "%s", par ? par : "");
    fx->last_has_auth = auth != NULL;
    pthread_mutex_unlock(&fx->mu);

    char body[512];
    enum MHD_Result ret;
    const char *json = "application/json";
    size_t ulen = strlen(url);
    if (!strncmp(url, "/delay/", 7) || conc) {
        int ms = atoi(url + (conc ? 6 : 7));
        for (int i = 0; i < ms && !atomic_load(&fx->stop); i++) usleep(1000);
    }
    if (!strcmp(url, "/hang")) {
        while (!atomic_load(&fx->stop)) usleep(2000);
        ret = MHD_NO;
    } else if (!strncmp(url, "/status/", 8)) {
        int st = atoi(url + 8);
        snprintf(body, sizeof body, "{\"error\":{\"code\":%d,\"message\":\"test\"}}", st);
        ret = fx_reply(c, (unsigned)st, json, body, strlen(body), NULL, NULL);
    } else if (!strcmp(url, "/text")) {
        ret = fx_reply(c, 200, "text/plain", "hello, not json", 15, NULL, NULL);
    } else if (!strcmp(url, "/big")) {
        char *b = malloc(fx->big_size);
        memset(b, 'x', fx->big_size);
        ret = fx_reply(c, 200, "text/plain", b, fx->big_size, NULL, NULL);
        free(b);
    } else if (!strcmp(url, "/flaky")) {
        int n = atomic_fetch_add(&fx->flaky_count, 1);
        if (n < fx->flaky_fails) ret = fx_reply(c, 503, json, "{}", 2, NULL, NULL);
        else ret = fx_reply(c, 200, json, "{\"ok\":true}", 11, NULL, NULL);
    } else if (!strncmp(url, "/retryafter/", 12)) {
        ret = fx_reply(c, 503, json, "{}", 2, "Retry-After", url + 12);
    } else if (!strcmp(url, "/badmeta/meta")) {
        ret = fx_reply(c, 200, json, "{\"id\":\"\"}", 9, NULL, NULL);
    } else if (!strcmp(url, "/echo")) {
        const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        char accept[256] = "";
        MHD_get_connection_values(c, MHD_HEADER_KIND, fx_accepts, accept);
        json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s}", "method", method, "rid", rid ? rid : "", "parent",
                              par ? par : "", "has_auth", auth != NULL, "body", cc->buf ? cc->buf : "",
                              "ctype", ctype ? ctype : "", "accept", accept);
        char *s = json_dumps(o, JSON_COMPACT);
        ret = fx_reply(c, 200, json, s, strlen(s), "Location", "http://example.test/new");
        free(s);
        json_decref(o);
    } else if (ulen >= 5 && !strcmp(url + ulen - 5, "/meta")) {
        snprintf(body, sizeof body, "{\"id\":\"%.*s\",\"type\":\"urn:test:peer\",\"version\":\"1.0\"}",
                 (int)(ulen > 6 ? ulen - 6 : 0), url + 1);
        ret = fx_reply(c, 200, json, body, strlen(body), NULL, NULL);
    } else {
        ret = fx_reply(c, 200, json, "{\"ok\":true}", 11, NULL, NULL);
    }
    if (conc) atomic_fetch_sub(&fx->current, 1);
    return ret;
}

static void fx_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    fx_conn *cc = *con_cls;
    if (cc) {
        free(cc->buf);
        free(cc);
    }
    *con_cls = NULL;
}

static int fx_start(peer_fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    pthread_mutex_init(&fx->mu, NULL);
    fx->big_size = 1000;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    fx->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0,
                             NULL, NULL, fx_handler, fx, MHD_OPTION_SOCK_ADDR, &sa,
                             MHD_OPTION_NOTIFY_COMPLETED, fx_completed, fx, MHD_OPTION_CONNECTION_TIMEOUT,
                             (unsigned)30, MHD_OPTION_END);
    if (!fx->d) return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(fx->d, MHD_DAEMON_INFO_BIND_PORT);
    fx->port = di->port;
    snprintf(fx->base, sizeof fx->base, "http://127.0.0.1:%u", fx->port);
    return 0;
}

static void fx_stop(peer_fixture *fx)
{
    atomic_store(&fx->stop, true);
    if (fx->d) MHD_stop_daemon(fx->d);
    fx->d = NULL;
    pthread_mutex_destroy(&fx->mu);
}

/* A TCP port on 127.0.0.1 where nothing listens (connection refused). */
static uint16_t fx_refused_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    bind(s, (struct sockaddr *)&sa, sizeof sa);
    socklen_t l = sizeof sa;
    getsockname(s, (struct sockaddr *)&sa, &l);
    close(s);
    return ntohs(sa.sin_port);
}

/* ---- an app on the test's own loop (the test thread is the loop thread) ---- */

typedef struct test_app {
    uv_loop_t loop;
    uv_timer_t tick;
    aw_app *app;
    char db[64];
    bool closed;
} test_app;

static void ta_tick(uv_timer_t *t) {}

static void ta_open(test_app *ta, const aw_net_config *net)
{
    memset(ta, 0, sizeof *ta);
    uv_loop_init(&ta->loop);
    uv_timer_init(&ta->loop, &ta->tick);
    uv_timer_start(&ta->tick, ta_tick, 5, 5); /* wake the loop regularly for run_until */
    snprintf(ta->db, sizeof ta->db, "/tmp/aw_peer_test_%d_XXXXXX", (int)getpid());
    int fd = mkstemp(ta->db);
    if (fd >= 0) close(fd);
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.base_url = "http://127.0.0.1:1";
    char st[128];
    snprintf(st, sizeof st, "sqlite:%s", ta->db);
    cfg.storage = st;
    cfg.listen_port = 0;
    cfg.log_level = AW_LOG_ERROR;
    if (net) cfg.net = *net;
    /* The same tests through libcurl for plain-http peers as well (tests/CMakeLists.txt runs them twice). */
    const char *via_curl = getenv("AW_PEER_CURL_FOR_HTTP");
    if (via_curl && *via_curl == '1') cfg.net.curl_for_http = 1;
    if (aw_app_new(&cfg, &ta->app) != AW_OK) abort();
    if (aw_app_attach(ta->app, &ta->loop) != AW_OK) abort();
}

/* Run the loop until *flag is true or timeout_ms passes. Returns the flag. */
static bool ta_run_until(test_app *ta, atomic_bool *flag, unsigned timeout_ms)
{
    uint64_t end = uv_hrtime() / 1000000 + timeout_ms;
    while (!atomic_load(flag) && uv_hrtime() / 1000000 < end) uv_run(&ta->loop, UV_RUN_ONCE);
    return atomic_load(flag);
}

static void ta_run_ms(test_app *ta, unsigned ms)
{
    atomic_bool never = false;
    ta_run_until(ta, &never, ms);
}

static void ta_closed(aw_app *app, void *ud) { ((test_app *)ud)->closed = true; }

static void ta_close(test_app *ta)
{
    aw_app_close(ta->app, ta_closed, ta);
    uint64_t end = uv_hrtime() / 1000000 + 10000;
    while (!ta->closed && uv_hrtime() / 1000000 < end) uv_run(&ta->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&ta->tick, NULL);
    uv_run(&ta->loop, UV_RUN_DEFAULT);
    aw_app_free(ta->app);
    uv_loop_close(&ta->loop);
    unlink(ta->db);
    char p[80];
    snprintf(p, sizeof p, "%s-wal", ta->db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", ta->db);
    unlink(p);
}

#endif
