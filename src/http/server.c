/* libmicrohttpd in external-epoll mode inside the app's libuv loop (design.md, research/c-stack.md §1.4).
 *
 * Request life: the URI log callback allocates the aw_req; the access handler collects the body and,
 * on the final call, routes it. A handler answers at once or later; until it answers the connection is
 * suspended, and the answer resumes it (then MHD_run must run again: a zero timer does that). Callbacks
 * that join a group commit are held instead of suspended: their answers come within the same turn. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/request.h"
#include "http/server.h"
#include "peer/delivery.h"
#include "store/exec.h"
#include "store/group.h"
#include "util/rand.h"
#include "util/time.h"
#include "util/str.h"

typedef struct aw_server {
    aw_app *app;
    struct MHD_Daemon *d;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_timer_t kick;
    uint16_t port;
    size_t in_flight;          /* requests started and not yet completed */
    size_t active;             /* of those, requests whose whole body arrived and that were dispatched */
    uint64_t quiesce_ms;       /* when quiescing began (monotonic) */
    uv_timer_t upload;         /* re-check the drain when the upload grace ends */
    bool quiescing;
    void (*drained)(aw_app *app);
    bool drained_called;
    uv_timer_t grace;          /* hard limit on the drain wait */
    char rid_prefix[20];       /* random per server; request ids are prefix + counter */
    uint64_t rid_counter;
} aw_server;

static void drive(aw_server *s);
static void check_drained(aw_server *s);

#define UPLOAD_GRACE_MS 3000

static void on_poll(uv_poll_t *p, int status, int events) { drive(p->data); }
static void on_timer(uv_timer_t *t) { drive(t->data); }

static void drive(aw_server *s)
{
    if (!s->d) return;
    /* The turn's callbacks commit together, then are answered. Held answers (access_cb) need two more
     * MHD passes: one queues them, one writes them; run those now rather than on a later loop turn. */
    for (int pass = 0, passes = 1; pass < passes && pass < 3; pass++) {
        MHD_run(s->d);
        if (aw_group_active(s->app)) passes = pass + 3;
        aw_group_flush(s->app);
    }
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(s->d, &to) == MHD_YES) uv_timer_start(&s->timer, on_timer, to, 0);
    else uv_timer_stop(&s->timer);
}

/* Schedule MHD_run on the next loop turn (after a resume; the epoll fd alone does not wake us). */
static void kick(aw_server *s)
{
    if (!uv_is_active((uv_handle_t *)&s->kick)) uv_timer_start(&s->kick, on_timer, 0, 0);
}

static void on_drained(uv_timer_t *t)
{
    aw_server *s = t->data;
    s->drained(s->app);
}

/* Runs inside MHD_run (completed_cb): the drained step stops the MHD daemon, so it must run on a later
 * loop turn, never inside MHD_run. */
static void check_drained(aw_server *s)
{
    /* Dispatched requests hold the shutdown until answered. Requests still receiving their body hold it
     * for at most UPLOAD_GRACE_MS: a client that stalls or vanishes mid-body must not (libmicrohttpd
     * 0.9.75 in epoll mode may miss a FIN that arrives together with the data). */
    bool uploads_done = s->in_flight == s->active || aw_mono_ms() >= s->quiesce_ms + UPLOAD_GRACE_MS;
    if (s->quiescing && s->active == 0 && uploads_done && !s->drained_called) {
        s->drained_called = true;
        uv_timer_stop(&s->grace);
        uv_timer_start(&s->grace, on_drained, 0, 0);
    }
}

/* ------------------------------------------------------------------ request object */

static void req_free(aw_req *req)
{
    if (req->handler_free && req->handler_state) req->handler_free(req->handler_state);
    if (req->pp) MHD_destroy_post_processor(req->pp);
    if (req->resp) MHD_destroy_response(req->resp);
    for (size_t i = 0; i < req->nseg; i++) free(req->segs[i]);
    for (size_t i = 0; i < req->nhdr; i++) {
        free(req->hdr_names[i]);
        free(req->hdr_values[i]);
    }
    json_decref(req->form);
    aw_buf_free(&req->body);
    aw_actor_rec_free(&req->actor);
    free(req->actor_url);
    free(req->raw_uri);
    free(req);
}

/* Percent-decoding in place (MHD's own), skipped for text without a '%': MHD's decoder goes character
 * by character through every path segment, query argument and its own copy of the URL. */
static size_t aw_unescape(char *s)
{
    return strchr(s, '%') ? MHD_http_unescape(s) : strlen(s);
}

static size_t unescape_cb(void *cls, struct MHD_Connection *con, char *uri)
{
    (void)cls;
    (void)con;
    return aw_unescape(uri);
}

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *con)
{
    aw_server *s = cls;
    aw_req *req = calloc(1, sizeof *req);
    if (!req) return NULL;
    req->app = s->app;
    req->conn = con;
    req->raw_uri = strdup(uri ? uri : "/");
    req->t_start_ns = aw_mono_ns();
    s->in_flight++;
    return req;
}

static bool request_id_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > 64) return false;
    for (const char *p = v; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* Split the raw path into decoded segments below the base path. Returns an HTTP status (0 = ok). */
static int split_path(aw_req *req)
{
    const char *base = req->app->base_path;
    const char *p = req->raw_uri;
    size_t plen = strcspn(p, "?#");
    size_t blen = strlen(base);
    if (blen) {
        if (plen < blen || strncmp(p, base, blen) != 0 || (p[blen] != '/' && blen != plen)) return 404;
        p += blen;
        plen -= blen;
    }
    if (plen > 4096) return 414;
    size_t i = 0;
    while (i < plen) {
        while (i < plen && p[i] == '/') i++;
        if (i >= plen) break;
        size_t j = i;
        while (j < plen && p[j] != '/') j++;
        if (req->nseg >= AW_REQ_MAX_SEGS) return 404;
        char *seg = strndup(p + i, j - i);
        if (!seg) return 503;
        size_t dlen = aw_unescape(seg);
        req->segs[req->nseg++] = seg;
        /* Decoded segments must not smuggle structure: no '/', NUL, dot segments, bad UTF-8. */
        if (dlen != strlen(seg) || strchr(seg, '/') || !strcmp(seg, ".") || !strcmp(seg, "..") ||
            !aw_utf8_valid(seg, dlen))
            return 400;
        if (dlen > 255) return 414;
        i = j;
    }
    return 0;
}

static enum MHD_Result form_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                 const char *content_type, const char *transfer_encoding, const char *data,
                                 uint64_t off, size_t size)
{
    aw_req *req = cls;
    if (!req->form) req->form = json_object();
    if (!req->form || !key) return MHD_YES;
    json_t *cur = json_object_get(req->form, key);
    const char *prev = off > 0 && json_is_string(cur) ? json_string_value(cur) : "";
    aw_buf b = AW_BUF_INIT;
    aw_buf_puts(&b, prev);
    aw_buf_append(&b, data ? data : "", size);
    char *v = aw_buf_take(&b);
    if (v && aw_utf8_valid(v, strlen(v))) json_object_set_new(req->form, key, json_string(v));
    free(v);
    return MHD_YES;
}

static void begin_request(aw_server *s, aw_req *req, const char *method)
{
    aw_strlcpy(req->orig_method, method, sizeof req->orig_method);
    aw_strlcpy(req->method, method, sizeof req->method);
    const char *rid = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-ID");
    if (rid && request_id_ok(rid)) aw_strlcpy(req->request_id, rid, sizeof req->request_id);
    else snprintf(req->request_id, sizeof req->request_id, "%s-%llx", s->rid_prefix,
                  (unsigned long long)++s->rid_counter);
    if (aw_req_is_form(req)) req->pp = MHD_create_post_processor(req->conn, 16384, form_iter, req);
}

static void apply_method_override(aw_req *req)
{
    if (strcmp(req->orig_method, "GET") != 0 && strcmp(req->orig_method, "POST") != 0) return;
    const char *m = aw_req_param(req, "_method");
    if (!m) return;
    static const char *const allowed[] = {"GET", "POST", "PUT", "DELETE"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(m, allowed[i])) {
            aw_strlcpy(req->method, allowed[i], sizeof req->method);
            return;
        }
    }
}

static enum MHD_Result queue(aw_req *req)
{
    enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)req->status, req->resp);
    return r;
}

/* ------------------------------------------------------------------ storage-executor jobs */

static void offload_work(aw_store *st, void *ud)
{
    aw_route_actor(ud); /* on a worker: aw_app_store() is `st` here */
}

static void offload_done(void *ud, int status)
{
    aw_req *req = ud;
    req->offloaded = false;
    if (!req->replied) {
        if (status == AW_OK) aw_req_reply_error(req, 500, "the handler did not answer");
        else aw_req_reply_status(req, status == AW_ECANCELED ? AW_ESHUTDOWN : status, "storage");
    }
    if (strcmp(req->method, "GET") != 0) aw_delivery_kick(req->app); /* diffs may wait in the outbox */
    aw_req_resume_if_needed(req);
}

/* Called with the connection suspended, so the job owns the request until offload_done. */
static void offload(aw_server *s, aw_req *req)
{
    req->offloaded = true;
    int r = aw_store_exec_submit(s->app->exec, offload_work, offload_done, req);
    if (r != AW_OK) {
        req->offloaded = false;
        aw_req_reply_status(req, r, "storage");
    }
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    aw_server *s = cls;
    aw_req *req = *con_cls;
    if (!req) return MHD_NO; /* allocation failed in uri_log_cb */
    if (!req->started) {
        req->started = true;
        begin_request(s, req, method);
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->app->cfg.max_body) {
            /* Refuse before reading the body: the answer closes the connection. */
            aw_req_reply_error(req, 413, "request body larger than %zu bytes", s->app->cfg.max_body);
            return queue(req);
        }
        return MHD_YES; /* queue on a later call, or MHD 0.9.75 closes keep-alive connections */
    }
    if (*upload_data_size > 0) {
        if (!req->body_too_large) {
            if (req->body.len + *upload_data_size > s->app->cfg.max_body) {
                req->body_too_large = true;
                aw_buf_free(&req->body);
            } else {
                aw_buf_append(&req->body, upload_data, *upload_data_size);
                if (req->pp) MHD_post_process(req->pp, upload_data, *upload_data_size);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->resp) {
        req->suspended = req->held = false;
        return queue(req);
    }
    if (req->suspended || req->held) return MHD_YES; /* spurious call while waiting */
    /* The whole request is here: route it. */
    if (req->body_too_large) {
        aw_req_reply_error(req, 413, "request body larger than %zu bytes", s->app->cfg.max_body);
    } else if (req->body.oom) {
        aw_req_reply_error(req, 503, "out of memory");
    } else {
        int st = split_path(req);
        if (st) {
            aw_req_reply_error(req, st, st == 400 ? "invalid path segment" : st == 414 ? "path too long"
                                                                                      : "not found");
        } else {
            apply_method_override(req);
            req->routed = true;
            s->active++;
            /* Only subscription callbacks join a group commit; anything else sees committed data and
             * answers only after it (store/group.h). */
            if (!aw_route_joins_group(req)) aw_group_flush(s->app);
            aw_route(req);
        }
    }
    if (req->resp) return queue(req);
    /* Held for the group commit at the end of this turn: no response queued, so MHD 0.9.75 keeps the
     * connection in its ready list (MHD_EVENT_LOOP_INFO_BLOCK), MHD_get_timeout() says 0 and the next
     * MHD_run() calls this handler again, which queues the answer. This saves the suspend/resume pair
     * (two epoll_ctl calls and a wake-up) per callback. */
    if (req->held) return MHD_YES;
    /* The handler answers later: park the connection. */
    req->suspended = true;
    MHD_suspend_connection(con);
    if (req->offload) offload(s, req);
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    aw_server *s = cls;
    aw_req *req = *con_cls;
    if (!req) return;
    *con_cls = NULL;
    if (req->started && aw_log_enabled(&s->app->log, AW_LOG_INFO)) {
        double ms = (double)(aw_mono_ns() - req->t_start_ns) / 1e6;
        char path[160];
        size_t n = strcspn(req->raw_uri, "?");
        snprintf(path, sizeof path, "%.*s", (int)(n < 150 ? n : 150), req->raw_uri);
        aw_logf(&s->app->log, AW_LOG_INFO, "req %s %s %s -> %d %.2fms%s", req->request_id, req->orig_method, path,
                req->status, ms, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    }
    if (req->routed) s->active--;
    req_free(req);
    s->in_flight--;
    check_drained(s);
}

/* ------------------------------------------------------------------ replies */

void aw_req_resume_if_needed(aw_req *req)
{
    if (!req->suspended) return;
    aw_server *s = req->app->server;
    MHD_resume_connection(req->conn);
    kick(s);
}

/* ------------------------------------------------------------------ lifecycle */

int aw_server_start(aw_app *app)
{
    aw_server *s = calloc(1, sizeof *s);
    if (!s) return AW_ENOMEM;
    s->app = app;
    app->server = s;
    aw_rand_hex(s->rid_prefix, 8);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(app->cfg.listen_port);
    if (inet_pton(AF_INET, app->cfg.listen_host, &sa.sin_addr) != 1) {
        AW_ERROR(&app->log, "listen address must be an IPv4 address: %s", app->cfg.listen_host);
        return AW_EINVAL;
    }
    /* MHD keeps the request line, headers and its buffers in this per-connection pool (and clears it per
     * request): the header limit plus room for the reply headers. */
    size_t mem = app->cfg.max_header + 4096;
    s->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME,
                            app->cfg.listen_port, NULL, NULL, access_cb, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)(app->cfg.reuse_port ? 1 : 0),
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log_cb, s,
                            MHD_OPTION_UNESCAPE_CALLBACK, unescape_cb, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)app->cfg.max_connections,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                            MHD_OPTION_END);
    if (!s->d) {
        AW_ERROR(&app->log, "cannot listen on %s:%u", app->cfg.listen_host, (unsigned)app->cfg.listen_port);
        return AW_EBUSY;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = pi ? pi->port : app->cfg.listen_port;
    uv_poll_init(app->loop, &s->poll, di->epoll_fd);
    uv_timer_init(app->loop, &s->timer);
    uv_timer_init(app->loop, &s->kick);
    uv_timer_init(app->loop, &s->grace);
    uv_timer_init(app->loop, &s->upload);
    s->poll.data = s->timer.data = s->kick.data = s->grace.data = s->upload.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    drive(s);
    AW_INFO(&app->log, "listening on http://%s:%u (base %s)", app->cfg.listen_host, (unsigned)s->port,
            app->cfg.base_url);
    return AW_OK;
}

static void on_grace(uv_timer_t *t)
{
    aw_server *s = t->data;
    if (aw_store_exec_pending(s->app->exec)) { /* a storage job still uses its request: wait for it */
        uv_timer_start(&s->grace, on_grace, 1000, 0);
        return;
    }
    AW_WARN(&s->app->log, "shutdown: %zu request(s) still in flight after the grace period", s->active);
    s->active = 0;
    check_drained(s);
}

static void on_upload_grace(uv_timer_t *t)
{
    aw_server *s = t->data;
    drive(s);
    check_drained(s);
}

void aw_server_quiesce(aw_app *app, void (*drained)(aw_app *app))
{
    aw_server *s = app->server;
    if (!s || !s->d) {
        drained(app);
        return;
    }
    s->quiescing = true;
    s->drained = drained;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    s->quiesce_ms = aw_mono_ms();
    uv_timer_start(&s->grace, on_grace, 15000, 0);
    uv_timer_start(&s->upload, on_upload_grace, UPLOAD_GRACE_MS + 10, 0);
    /* Idle keep-alive connections do not count as in flight: only requests do. */
    check_drained(s);
}

static void on_closed(uv_handle_t *h) { aw_app_handle_closed(((aw_server *)h->data)->app); }

void aw_server_close(aw_app *app)
{
    aw_server *s = app->server;
    if (!s) return;
    if (s->d) {
        uv_poll_stop(&s->poll);
        MHD_stop_daemon(s->d); /* closes idle keep-alive connections */
        s->d = NULL;
    }
    if (uv_is_active((uv_handle_t *)&s->poll) || s->poll.loop) {
        uv_handle_t *hs[] = {(uv_handle_t *)&s->poll, (uv_handle_t *)&s->timer, (uv_handle_t *)&s->kick,
                             (uv_handle_t *)&s->grace, (uv_handle_t *)&s->upload};
        for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
            if (!hs[i]->loop || uv_is_closing(hs[i])) continue;
            app->closing_handles++;
            uv_close(hs[i], on_closed);
        }
    }
}

void aw_server_free(aw_app *app)
{
    aw_server *s = app->server;
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d);
    free(s);
    app->server = NULL;
}

uint16_t aw_server_port(const aw_app *app) { return app->server ? app->server->port : 0; }
