/* aw — HTTP through libactingweb. An aw_app with in-memory SQLite and no listening server is attached to
 * a loop owned by a background thread; the main thread uses the sync forms (aw_peer_request_sync,
 * aw_peer_meta_get), which hand each request to that loop and wait.
 *
 * aw_app_attach() is used rather than aw_app_run() because aw_app_run() gives no signal that the loop is
 * ready: a sync call made before the loop thread has attached fails with AW_ESHUTDOWN. Attaching on the
 * loop thread and signalling afterwards closes that race with the public API only. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <uv.h>

#include "aw.h"

struct cli_rt {
    aw_app *app;
    pthread_t thread;
    uv_loop_t loop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
    int attach_rc;
};

static void log_sink(aw_log_level level, const char *msg, void *ud)
{
    (void)level;
    if (ud) fprintf(stderr, "aw: [lib] %s\n", msg);
}

static void *loop_main(void *arg)
{
    struct cli_rt *rt = arg;
    int init = uv_loop_init(&rt->loop);
    int r = init == 0 ? aw_app_attach(rt->app, &rt->loop) : AW_ENOMEM;
    pthread_mutex_lock(&rt->mu);
    rt->attach_rc = r;
    rt->ready = true;
    pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
    if (init != 0) return NULL;
    /* After a failed attach the app has begun closing its handles: running the loop finishes that. */
    uv_run(&rt->loop, UV_RUN_DEFAULT);
    uv_loop_close(&rt->loop);
    return NULL;
}

int cli_start(cli *c)
{
    struct cli_rt *rt = calloc(1, sizeof *rt);
    if (!rt) return cli_fail("start", AW_ENOMEM, NULL);
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.base_url = "http://127.0.0.1";
    cfg.storage = "sqlite::memory:";
    cfg.listen_port = 0; /* no server: a pure client */
    cfg.log_cb = log_sink;
    cfg.log_ud = c->verbose ? (void *)1 : NULL;
    cfg.log_level = c->verbose ? AW_LOG_DEBUG : AW_LOG_ERROR;
    cfg.net.deadline_ms = c->timeout_ms;
    cfg.net.attempt_ms = c->timeout_ms;
    cfg.net.connect_ms = c->timeout_ms < 5000 ? c->timeout_ms : 5000;
    cfg.net.max_outbound = 8;
    cfg.net.per_origin = 8;
    cfg.net.max_response = 64u << 20;
    int r = aw_app_new(&cfg, &rt->app);
    if (r != AW_OK) {
        free(rt);
        fprintf(stderr, "aw: cannot initialise the HTTP client: %s\n", aw_strerror(r));
        return EX_NET;
    }
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    if (pthread_create(&rt->thread, NULL, loop_main, rt) != 0) {
        aw_app_free(rt->app);
        free(rt);
        fprintf(stderr, "aw: cannot start the client thread\n");
        return EX_NET;
    }
    pthread_mutex_lock(&rt->mu);
    while (!rt->ready) pthread_cond_wait(&rt->cv, &rt->mu);
    pthread_mutex_unlock(&rt->mu);
    c->rt = rt;
    if (rt->attach_rc != AW_OK) {
        fprintf(stderr, "aw: cannot start the HTTP client: %s\n", aw_strerror(rt->attach_rc));
        cli_stop(c);
        return EX_NET;
    }
    return EX_OK;
}

void cli_stop(cli *c)
{
    struct cli_rt *rt = c->rt;
    if (!rt) return;
    aw_app_stop(rt->app);
    pthread_join(rt->thread, NULL);
    aw_app_free(rt->app);
    pthread_cond_destroy(&rt->cv);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
    c->rt = NULL;
}

const char *cli_base_url(cli *c)
{
    const char *u = c->f_url ? c->f_url : getenv("AW_URL");
    if (!u || !*u) {
        cli_usage_error("no URL: give --url or set AW_URL");
        return NULL;
    }
    return u;
}

/* Parse `base` as an absolute http(s) URL. */
static CURLU *parse_http_url(const char *base)
{
    CURLU *u = curl_url();
    if (!u) return NULL;
    char *scheme = NULL;
    bool ok = curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
              (!strcmp(scheme, "http") || !strcmp(scheme, "https"));
    curl_free(scheme);
    if (!ok) {
        curl_url_cleanup(u);
        fprintf(stderr, "aw: not an absolute http(s) URL: %s\n", base);
        return NULL;
    }
    return u;
}

static char *get_url(CURLU *u)
{
    char *s = NULL;
    char *out = NULL;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) out = strdup(s);
    curl_free(s);
    curl_url_cleanup(u);
    return out;
}

char *cli_url(const char *base, const char *const *segs, size_t nsegs)
{
    CURLU *u = parse_http_url(base);
    if (!u) return NULL;
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    char *path = NULL;
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    size_t cap = (path ? strlen(path) : 0) + 2;
    for (size_t i = 0; i < nsegs; i++) cap += 3 * strlen(segs[i]) + 1;
    char *p = malloc(cap);
    if (!p) {
        curl_free(path);
        curl_url_cleanup(u);
        return NULL;
    }
    strcpy(p, path ? path : "/");
    curl_free(path);
    size_t len = strlen(p);
    for (size_t i = 0; i < nsegs; i++) {
        if (len == 0 || p[len - 1] != '/') p[len++] = '/';
        char *e = curl_easy_escape(NULL, segs[i], 0);
        if (!e) {
            free(p);
            curl_url_cleanup(u);
            return NULL;
        }
        strcpy(p + len, e);
        len += strlen(e);
        curl_free(e);
    }
    p[len] = '\0';
    CURLUcode rc = curl_url_set(u, CURLUPART_PATH, p, 0);
    free(p);
    if (rc != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return get_url(u);
}

char *cli_url_query(char *url, const char *name, const char *value)
{
    CURLU *u = parse_http_url(url);
    free(url);
    if (!u) return NULL;
    size_t n = strlen(name) + strlen(value) + 2;
    char *q = malloc(n);
    if (!q) {
        curl_url_cleanup(u);
        return NULL;
    }
    snprintf(q, n, "%s=%s", name, value);
    CURLUcode rc = curl_url_set(u, CURLUPART_QUERY, q, CURLU_APPENDQUERY | CURLU_URLENCODE);
    free(q);
    if (rc != CURLUE_OK) {
        curl_url_cleanup(u);
        return NULL;
    }
    return get_url(u);
}

char *cli_root_url(const char *base)
{
    CURLU *u = parse_http_url(base);
    if (!u) return NULL;
    curl_url_set(u, CURLUPART_QUERY, NULL, 0);
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    char *out = get_url(u);
    /* With query and fragment gone the URL ends with its path; the actor root form has no trailing
     * slash (the URL API always renders an empty path as "/"). */
    if (out) {
        size_t n = strlen(out);
        while (n > 0 && out[n - 1] == '/') out[--n] = '\0';
    }
    return out;
}

/* The server's message: {"error": {"message"}}, {"error": "..."}, {"message"}, or a short text body. */
static char *server_message(const aw_result *res)
{
    json_t *j = aw_result_json(res);
    const char *m = NULL;
    if (json_is_object(j)) {
        json_t *e = json_object_get(j, "error");
        if (json_is_object(e)) m = json_string_value(json_object_get(e, "message"));
        else if (json_is_string(e)) m = json_string_value(e);
        if (!m) m = json_string_value(json_object_get(j, "message"));
    }
    if (m) return strdup(m);
    size_t len = 0;
    const char *body = aw_result_body(res, &len);
    if (body && len > 0 && len <= 512 && !j) {
        char *s = strndup(body, len);
        if (s)
            for (char *p = s; *p; p++)
                if (*p == '\r' || *p == '\n') *p = ' ';
        return s;
    }
    return NULL;
}

int cli_fail(const char *what, int status, const aw_result *res)
{
    int http = res ? aw_result_http_status(res) : 0;
    if (status == AW_EPEER || (http >= 300 && status != AW_ENET && status != AW_ETIMEDOUT)) {
        char *m = server_message(res);
        const char *loc = aw_result_location(res);
        if (m && *m) fprintf(stderr, "aw: %s: %s (HTTP %d)\n", what, m, http);
        else if (http >= 300 && http < 400 && loc) fprintf(stderr, "aw: %s: redirected to %s (HTTP %d)\n", what, loc, http);
        else fprintf(stderr, "aw: %s: the server answered HTTP %d\n", what, http);
        free(m);
        return EX_REFUSED;
    }
    /* The library's message names the method and URL already. */
    const char *msg = res ? aw_result_message(res) : aw_strerror(status);
    switch (status) {
    case AW_ETIMEDOUT:
        fprintf(stderr, "aw: timed out: %s\n", msg);
        return EX_NET;
    case AW_ENET:
    case AW_ECANCELED:
    case AW_ESHUTDOWN:
    case AW_ENOMEM:
        fprintf(stderr, "aw: network error: %s\n", msg);
        return EX_NET;
    case AW_EINVAL:
        fprintf(stderr, "aw: %s: invalid URL or request (%s)\n", what, msg);
        return EX_USAGE;
    default:
        fprintf(stderr, "aw: %s: %s\n", what, msg);
        return EX_REFUSED;
    }
}

int cli_http(cli *c, const char *method, const char *url, json_t *json, const char *text, cli_auth auth,
             aw_result **out)
{
    *out = NULL;
    aw_peer_request req = {.method = method, .url = url, .json = json};
    if (!json && text) {
        req.body = text;
        req.body_len = strlen(text);
        req.content_type = "text/plain; charset=utf-8";
    }
    if (auth == AUTH_CRED) {
        /* Flags win over the environment; within each, a token wins over Basic. */
        const char *tok = NULL, *user = NULL, *pass = NULL;
        if (c->f_token) tok = c->f_token;
        else if (c->f_creator || c->f_passphrase) {
            user = c->f_creator ? c->f_creator : getenv("AW_CREATOR");
            pass = c->f_passphrase ? c->f_passphrase : getenv("AW_PASSPHRASE");
        } else if (getenv("AW_TOKEN") && *getenv("AW_TOKEN")) tok = getenv("AW_TOKEN");
        else {
            user = getenv("AW_CREATOR");
            pass = getenv("AW_PASSPHRASE");
        }
        if (tok) req.bearer = tok;
        else if (pass) {
            req.basic_user = user && *user ? user : "creator";
            req.basic_pass = pass;
        }
    }
    aw_call_opts opts = AW_CALL_OPTS_INIT;
    opts.deadline_ms = c->timeout_ms;
    aw_result *res = NULL;
    int st = aw_peer_request_sync(c->rt->app, &req, &opts, &res);
    if (st != AW_OK) {
        size_t n = strlen(method) + strlen(url) + 2;
        char *what = malloc(n);
        if (what) snprintf(what, n, "%s %s", method, url);
        int ex = cli_fail(what ? what : method, st, res);
        free(what);
        aw_result_unref(res);
        return ex;
    }
    *out = res;
    return EX_OK;
}

int cli_meta(cli *c, const char *root, aw_result **out)
{
    *out = NULL;
    aw_call_opts opts = AW_CALL_OPTS_INIT;
    opts.deadline_ms = c->timeout_ms;
    aw_result *res = NULL;
    int st = aw_peer_meta_get(c->rt->app, root, &opts, &res);
    if (st != AW_OK) {
        int ex = cli_fail("GET meta", st, res);
        aw_result_unref(res);
        return ex;
    }
    *out = res;
    return EX_OK;
}
