/* One outbound HTTP request as an aw_op: gates, attempts on curl multi, retries (sdk-api.md §3.2),
 * deadline, cancellation, result building. Loop thread except aw_req_prepare / aw_req_submit. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "peer/http1.h"
#include "peer/internal.h"
#include "util/json.h"
#include "util/rand.h"
#include "util/str.h"

static const aw_retry_policy default_policy = {3, 500};

static bool has_crlf(const char *s) { return s && strpbrk(s, "\r\n") != NULL; }

static bool method_idempotent(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") || !strcmp(m, "DELETE") ||
           !strcmp(m, "OPTIONS");
}

/* op->hdrs, the CURLOPT_HTTPHEADER list: newest line first, ending in one shared, never-modified
 * "Accept" node unless the caller's headers have an Accept line of their own. Each node carries its text
 * in the same allocation (curl_slist_append makes two), so only this file builds or frees the list; lines
 * are wiped on free (one may hold a Bearer secret). */
static struct curl_slist accept_node = {(char *)"Accept: application/json", NULL};

static void hdrs_free(struct curl_slist *h)
{
    while (h && h != &accept_node) {
        struct curl_slist *next = h->next;
        memset(h->data, 0, strlen(h->data));
        free(h);
        h = next;
    }
}

void aw_req_free_fields(aw_op *op)
{
    free(op->method);
    free(op->url);
    free(op->origin_key);
    curl_url_cleanup(op->cu);
    free(op->body);
    hdrs_free(op->hdrs);
    if (op->basic_pass) memset(op->basic_pass, 0, strlen(op->basic_pass));
    free(op->basic_user);
    free(op->basic_pass);
    aw_buf_free(&op->resp);
    free(op->hdr_location);
    free(op->h1_target);
}

/* Prepend the line prefix + value (at most max bytes of value). */
static bool add_hdr_kv(aw_op *op, const char *prefix, const char *value, size_t max)
{
    size_t lp = strlen(prefix), lv = strnlen(value, max);
    struct curl_slist *n = malloc(sizeof *n + lp + lv + 1);
    if (!n) return false;
    char *d = (char *)(n + 1);
    memcpy(d, prefix, lp);
    memcpy(d + lp, value, lv);
    d[lp + lv] = 0;
    n->data = d;
    n->next = op->hdrs;
    op->hdrs = n;
    return true;
}

static bool add_hdr(aw_op *op, const char *line) { return add_hdr_kv(op, line, "", 0); }

int aw_req_prepare(aw_app *app, const aw_peer_request *req, const aw_call_opts *opts, aw_done_cb cb,
                   void *ud, aw_op **out)
{
    return aw_req_prepare_at(app, req, opts, cb, ud, NULL, NULL, out);
}

int aw_req_prepare_at(aw_app *app, const aw_peer_request *req, const aw_call_opts *opts, aw_done_cb cb,
                      void *ud, char *origin, CURLU *cu, aw_op **out)
{
    *out = NULL;
    int r = AW_EINVAL;
    if (!app || !req || !req->method || !req->url || !cb) goto bad;
    if (!*req->method || strlen(req->method) > 16) goto bad;
    for (const char *p = req->method; *p; p++)
        if (!isupper((unsigned char)*p)) goto bad;
    if (has_crlf(req->bearer) || has_crlf(req->content_type) || (opts && has_crlf(opts->parent_request_id)))
        goto bad;
    if (req->basic_user && !req->basic_pass) goto bad;
    if (req->headers)
        for (const char *const *h = req->headers; *h; h++)
            if (has_crlf(*h) || !strchr(*h, ':')) goto bad;
    /* app->peer is not read here: a start from another thread before the loop runs is queued (aw_app_post)
     * and judged on the loop (posted_start). */
    if (!origin) {
        curl_url_cleanup(cu);
        cu = NULL;
        if ((r = aw_url_origin(req->url, &origin, &cu)) != AW_OK) return r;
    }

    aw_op *op = calloc(1, sizeof *op);
    if (!op) {
        free(origin);
        curl_url_cleanup(cu);
        return AW_ENOMEM;
    }
    atomic_init(&op->refs, 1); /* the engine's reference, dropped after delivery */
    op->app = app;
    op->kind = AW_OPK_REQUEST;
    op->cb = cb;
    op->ud = ud;
    op->origin_key = origin;
    op->cu = cu;
    op->method = strdup(req->method);
    op->url = strdup(req->url);
    op->idemp = req->idempotency;
    const aw_retry_policy *pol = opts && opts->retry ? opts->retry : &default_policy;
    op->max_attempts = pol->max_attempts ? pol->max_attempts : 1;
    op->backoff_ms = pol->backoff_ms;
    if (op->idemp == AW_IDEMP_NEVER) op->max_attempts = 1;
    const aw_net_config *net = &app->cfg.net;
    op->deadline = opts && opts->deadline_ms ? opts->deadline_ms : (net->deadline_ms ? net->deadline_ms : 30000);
    bool ok = op->method && op->url;
    const char *ctype = NULL;
    if (req->json) {
        op->body = json_dumps(req->json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!op->body) ok = false;
        else op->body_len = strlen(op->body);
        op->has_body = true;
        ctype = "application/json";
    } else if (req->body) {
        op->body = malloc(req->body_len + 1);
        if (!op->body) ok = false;
        else {
            memcpy(op->body, req->body, req->body_len);
            op->body[req->body_len] = 0;
        }
        op->body_len = req->body_len;
        op->has_body = true;
        ctype = req->content_type ? req->content_type : "text/plain";
    }
    /* The caller's Accept line replaces ours; "Accept:" with no value sends none (libcurl then adds none). */
    bool own_accept = false;
    if (req->headers)
        for (const char *const *h = req->headers; *h && !own_accept; h++)
            own_accept = !strncasecmp(*h, "Accept:", 7);
    op->hdrs = own_accept ? NULL : &accept_node;
    /* No "Expect: 100-continue" round trip. libcurl adds that header only to bodies above a threshold
     * (1 MiB in 7.88, 1 KiB in old releases), and each custom header costs it work on every transfer. */
    if (ok && op->has_body && op->body_len > 1024) ok = add_hdr(op, "Expect:");
    if (ok && ctype) ok = add_hdr_kv(op, "Content-Type: ", ctype, 1000);
    if (ok && opts && opts->parent_request_id && *opts->parent_request_id)
        ok = add_hdr_kv(op, "X-Parent-Request-ID: ", opts->parent_request_id, 200);
    if (ok && req->bearer) ok = add_hdr_kv(op, "Authorization: Bearer ", req->bearer, SIZE_MAX);
    if (ok && req->headers)
        for (const char *const *h = req->headers; ok && *h; h++) ok = add_hdr(op, *h);
    if (ok && req->basic_user) {
        op->basic_user = strdup(req->basic_user);
        op->basic_pass = strdup(req->basic_pass);
        ok = op->basic_user && op->basic_pass;
    }
    if (!ok) {
        aw_op_free(op);
        return AW_ENOMEM;
    }
    *out = op;
    return AW_OK;
bad:
    free(origin);
    curl_url_cleanup(cu);
    return r;
}

static void attempt_begin(aw_op *op)
{
    if (aw_gate_acquire(op)) aw_req_launch_or_queue(op);
}

static void start_on_loop(aw_op *op)
{
    aw_peer_engine *eng = aw_peer_eng(op->app);
    aw_op_register(eng, op);
    char line[16 + 40] = "X-Request-ID: ";
    aw_peer_next_request_id(eng, line + 14);
    if (!add_hdr(op, line)) {
        aw_op_finish(op, aw_result_new(AW_ENOMEM), true);
        return;
    }
    uint32_t dl = (uint32_t)op->deadline;
    op->deadline = aw_peer_now(eng) + dl;
    op->tn_kind = TN_DEADLINE;
    op->tn.fire = aw_op_tn_fire;
    aw_peer_timer_start(eng, &op->tn, dl);
    attempt_begin(op);
}

static void posted_start(aw_app *app, void *ud)
{
    aw_op *op = ud;
    if (!aw_peer_eng_accepting(app) || op->cancel_pending) {
        int st = op->cancel_pending ? AW_ECANCELED : AW_ESHUTDOWN;
        aw_op_register(aw_peer_eng(app), op);
        aw_result *r = aw_result_new(st);
        aw_result_setmsg_req(r, op->method, op->url, aw_strerror(st));
        aw_op_finish(op, r, false); /* a posted closure, not the start call */
        return;
    }
    start_on_loop(op);
}

int aw_req_submit(aw_op *op, aw_op **op_out)
{
    aw_app *app = op->app;
    if (op_out) *op_out = NULL;
    if (aw_app_on_loop_thread(app)) {
        if (!aw_peer_eng_accepting(app)) {
            aw_op_free(op);
            return AW_ESHUTDOWN;
        }
        if (op_out) {
            atomic_fetch_add(&op->refs, 1);
            *op_out = op;
        }
        start_on_loop(op);
        return AW_OK;
    }
    if (op_out) atomic_fetch_add(&op->refs, 1);
    int r = aw_app_post(app, posted_start, op);
    if (r != AW_OK) {
        aw_op_free(op);
        return r;
    }
    if (op_out) *op_out = op;
    return AW_OK;
}

/* ---------------- one attempt ---------------- */

static size_t on_write(char *ptr, size_t size, size_t n, void *ud)
{
    aw_op *op = ud;
    size_t len = size * n;
    if (op->resp.len + len > aw_peer_net(op->eng)->max_response) {
        op->over_cap = true;
        return 0;
    }
    aw_buf_append(&op->resp, ptr, len);
    return op->resp.oom ? 0 : len;
}

void aw_req_retry_after(aw_op *op, const char *value, size_t len)
{
    char *v = aw_trim_dup(value, len);
    if (v && *v) {
        char *end;
        unsigned long long secs = strtoull(v, &end, 10);
        if (*end == 0) {
            op->hdr_has_retry_after = true;
            op->hdr_retry_after_ms = secs > 86400 ? 86400000u : (uint32_t)(secs * 1000);
        } else {
            time_t t = curl_getdate(v, NULL);
            if (t > 0) {
                time_t now = time(NULL);
                op->hdr_has_retry_after = true;
                op->hdr_retry_after_ms = t > now ? (uint32_t)((t - now) > 86400 ? 86400000 : (t - now) * 1000) : 0;
            }
        }
    }
    free(v);
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    aw_op *op = ud;
    size_t len = size * n;
    if (len >= 5 && !strncmp(buf, "HTTP/", 5)) { /* a new response (after 100 Continue) */
        free(op->hdr_location);
        op->hdr_location = NULL;
        op->hdr_has_retry_after = false;
        op->hdr_retry_after_ms = 0;
    } else if (len > 9 && !strncasecmp(buf, "Location:", 9)) {
        free(op->hdr_location);
        op->hdr_location = aw_trim_dup(buf + 9, len - 9);
    } else if (len > 12 && !strncasecmp(buf, "Retry-After:", 12)) {
        aw_req_retry_after(op, buf + 12, len - 12);
    }
    return len;
}

/* Every connection socket is opened here: private peers are refused when configured, and the engine
 * learns which sockets it will be told about when curl closes them (aw_peer_sock_opened). */
static curl_socket_t open_sock(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    aw_op *op = clientp;
    if (aw_peer_net(op->eng)->deny_private_peers && aw_addr_is_private(&a->addr)) {
        op->denied = true;
        return CURL_SOCKET_BAD;
    }
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd != CURL_SOCKET_BAD) aw_peer_sock_opened(op->eng, fd);
    return fd;
}

static void finish_status(aw_op *op, int status, const char *why, bool defer)
{
    aw_result *r = aw_result_new(status);
    if (r) {
        r->attempts = op->attempts;
        r->remote_state = op->maybe_sent ? AW_REMOTE_UNKNOWN : AW_REMOTE_NONE;
        aw_result_setmsg_req(r, op->method, op->url, why);
    }
    aw_op_finish(op, r, defer);
}

void aw_req_launch_or_queue(aw_op *op)
{
    aw_peer_engine *eng = op->eng;
    const aw_net_config *net = aw_peer_net(eng);
    uint64_t now = aw_peer_now(eng);
    if (now >= op->deadline) {
        aw_gate_release(op);
        finish_status(op, AW_ETIMEDOUT, "deadline passed while waiting for a connection slot", true);
        return;
    }
    uint64_t remain = op->deadline - now;
    aw_h1 *h1 = aw_peer_h1(eng);
    if (aw_h1_takes(h1, op)) {
        aw_buf_free(&op->resp);
        free(op->hdr_location);
        op->hdr_location = NULL;
        op->hdr_has_retry_after = false;
        op->hdr_retry_after_ms = 0;
        op->denied = false;
        op->state = OPS_RUNNING;
        op->attempts++;
        aw_h1_start(h1, op, remain);
        return;
    }
    bool fresh = false;
    CURL *e = aw_peer_easy_get(eng, &fresh);
    if (!e) {
        aw_gate_release(op);
        finish_status(op, AW_ENOMEM, "out of memory", true);
        return;
    }
    aw_buf_free(&op->resp);
    op->over_cap = false;
    op->denied = false;
    free(op->hdr_location);
    op->hdr_location = NULL;
    op->hdr_has_retry_after = false;
    op->hdr_retry_after_ms = 0;
    op->errbuf[0] = 0;
    if (fresh) { /* options that are the same for every transfer of this engine */
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        /* https peers are verified (peer and host name) against the system CA store, or cfg.net.ca_file. */
        if (net->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, net->ca_file);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)net->max_response);
        curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 90L);
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L); /* per transfer; peer answers are small */
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_sock);
    }
    /* Every option below is set for every transfer (recycled handles are not reset). */
    curl_easy_setopt(e, CURLOPT_URL, op->url);
    /* With the URL string set too, libcurl neither parses op->url again nor rebuilds it from the handle. */
    curl_easy_setopt(e, CURLOPT_CURLU, op->cu);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)op);
    curl_easy_setopt(e, CURLOPT_SHARE, aw_peer_share_for(eng, op));
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, op);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->hdrs);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(net->connect_ms < remain ? net->connect_ms : remain));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(net->attempt_ms < remain ? net->attempt_ms : remain));
    if (!strcmp(op->method, "GET") && !op->has_body) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* also clears NOBODY and upload */
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else if (!strcmp(op->method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
        if (op->has_body || !strcmp(op->method, "POST") || !strcmp(op->method, "PUT") ||
            !strcmp(op->method, "PATCH")) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)op->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, op->body ? op->body : "");
        } else {
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* e.g. DELETE without a body: no body from before */
        }
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, op->method);
    }
    if (op->basic_user) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, op->basic_user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, op->basic_pass);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, NULL);
        curl_easy_setopt(e, CURLOPT_PASSWORD, NULL);
    }
    op->easy = e;
    op->state = OPS_RUNNING;
    op->attempts++;
    if (curl_multi_add_handle(aw_peer_multi(eng), e) != CURLM_OK) {
        op->easy = NULL;
        aw_peer_easy_put(eng, e);
        aw_gate_release(op);
        finish_status(op, AW_ENOMEM, "cannot add the transfer", true);
    }
}

/* Stop whatever the op is doing (transfer, queue, backoff); the caller completes it. */
void aw_req_abort(aw_op *op, int status)
{
    aw_peer_engine *eng = op->eng;
    aw_peer_timer_stop(eng, &op->tn);
    if (op->state == OPS_RUNNING && op->h1c) aw_h1_abort(op);
    if (op->state == OPS_RUNNING && op->easy) {
        curl_off_t pre = 0;
        curl_easy_getinfo(op->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        if (pre > 0) op->maybe_sent = true;
        curl_multi_remove_handle(aw_peer_multi(eng), op->easy);
        aw_peer_easy_put(eng, op->easy);
        op->easy = NULL;
    }
    if (op->state == OPS_RUNNING || op->state == OPS_WAIT_ORIGIN || op->state == OPS_WAIT_GLOBAL) {
        aw_gate_release(op);     /* leaves the wait queue it is in (by state) */
        op->state = OPS_BACKOFF; /* neutral: out of queues and curl */
    }
}

void aw_req_timer_fire(aw_op *op)
{
    aw_peer_engine *eng = op->eng;
    if (op->tn_kind == TN_BACKOFF) {
        uint64_t now = aw_peer_now(eng);
        op->tn_kind = TN_DEADLINE;
        aw_peer_timer_start(eng, &op->tn, op->deadline > now ? op->deadline - now : 0);
        attempt_begin(op);
        return;
    }
    /* TN_DEADLINE */
    bool waiting = op->state == OPS_WAIT_ORIGIN || op->state == OPS_WAIT_GLOBAL;
    aw_req_abort(op, AW_ETIMEDOUT);
    finish_status(op, AW_ETIMEDOUT,
                  waiting ? "deadline passed while waiting for a connection slot" : "deadline passed", false);
}

void aw_req_attempt_answered(aw_op *op, long http)
{
    char why[24];
    if (http >= 100 && http <= 999) { /* every answer passes here: no printf */
        memcpy(why, "HTTP ", 5);
        why[5] = (char)('0' + http / 100), why[6] = (char)('0' + (http / 10) % 10);
        why[7] = (char)('0' + http % 10), why[8] = 0;
    } else {
        snprintf(why, sizeof why, "HTTP %ld", http);
    }
    aw_attempt_end e = {.status = http >= 200 && http < 300 ? AW_OK : AW_EPEER,
                        .http = http,
                        .transient = http == 502 || http == 503 || http == 504 || http == 429,
                        .answered = true,
                        .complete = true,
                        .why = why};
    aw_req_attempt_end(op, &e);
}

void aw_req_curl_done(aw_op *op, CURLcode rc)
{
    aw_peer_engine *eng = op->eng;
    CURL *e = op->easy;
    long http = 0, reqsize = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &reqsize);
    curl_multi_remove_handle(aw_peer_multi(eng), e);
    aw_peer_easy_put(eng, e);
    op->easy = NULL;
    if (rc == CURLE_OK) {
        aw_req_attempt_answered(op, http);
        return;
    }
    char why[300];
    aw_attempt_end end = {.http = http, .why = why};
    const char *msg = op->errbuf[0] ? op->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        end.answered = true;
        end.status = op->over_cap || rc == CURLE_FILESIZE_EXCEEDED ? AW_EPROTO : AW_ENOMEM;
        snprintf(why, sizeof why, "response body over %zu bytes", aw_peer_net(eng)->max_response);
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        end.status = AW_ENET;
        end.never_left = true;
        end.transient = !op->denied;
        aw_strlcpy(why, op->denied ? "peer address is private or loopback (deny_private_peers)" : msg, sizeof why);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        end.transient = true;
        end.timed_out = true;
        if (reqsize == 0) {
            end.status = AW_ENET;
            end.never_left = true;
            aw_strlcpy(why, "connect timed out", sizeof why);
        } else {
            end.status = AW_ETIMEDOUT;
            aw_strlcpy(why, "no answer within the attempt timeout", sizeof why);
        }
        break;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        end.status = AW_ENET;
        end.transient = true;
        end.never_left = reqsize == 0;
        aw_strlcpy(why, msg, sizeof why);
        break;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL: /* the schemes were checked at start: an answer that is not HTTP */
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        end.status = AW_EPROTO;
        aw_strlcpy(why, msg, sizeof why);
        break;
    default:
        end.status = AW_ENET;
        aw_strlcpy(why, msg, sizeof why);
        break;
    }
    aw_req_attempt_end(op, &end);
}

void aw_req_attempt_end(aw_op *op, const aw_attempt_end *end)
{
    aw_peer_engine *eng = op->eng;
    op->state = OPS_BACKOFF; /* neutral until decided */
    aw_gate_release(op);
    int st = end->status;
    long http = end->http;
    bool transient = end->transient;
    char why[300];
    aw_strlcpy(why, end->why ? end->why : aw_strerror(st), sizeof why);
    if (end->timed_out && aw_peer_now(eng) + 1 >= op->deadline) {
        st = AW_ETIMEDOUT; /* the attempt was cut by the operation's deadline */
        transient = false;
        aw_strlcpy(why, "deadline passed", sizeof why);
    }
    if (!end->answered && !end->never_left) op->maybe_sent = true;
    AW_DEBUG(&op->app->log, "peer: %s %s attempt %u -> %s (%s)", op->method, op->url, op->attempts,
             aw_err_name(st), why);

    bool may_retry = st != AW_OK && transient && op->attempts < op->max_attempts &&
                     op->idemp != AW_IDEMP_NEVER &&
                     (method_idempotent(op->method) || op->idemp == AW_IDEMP_SAFE || end->never_left);
    bool ra = end->answered && op->hdr_has_retry_after && (http == 429 || http == 503);
    if (may_retry) {
        uint64_t wait;
        if (ra) wait = op->hdr_retry_after_ms;
        else {
            uint64_t base = (uint64_t)op->backoff_ms << (op->attempts - 1 < 20 ? op->attempts - 1 : 20);
            wait = base * (80 + aw_rand_below(41)) / 100;
        }
        uint64_t now = aw_peer_now(eng);
        if (now + wait < op->deadline) {
            op->state = OPS_BACKOFF;
            op->tn_kind = TN_BACKOFF;
            aw_peer_timer_start(eng, &op->tn, wait);
            return;
        }
        if (ra) {
            st = AW_EBUSY;
            snprintf(why, sizeof why, "HTTP %ld, Retry-After %u ms is beyond the deadline", http,
                     op->hdr_retry_after_ms);
        }
    }

    aw_result *r = aw_result_new(st);
    if (r) {
        r->http_status = (int)http;
        r->attempts = op->attempts;
        if (ra || op->hdr_has_retry_after) r->retry_after_ms = op->hdr_retry_after_ms;
        r->location = op->hdr_location;
        op->hdr_location = NULL;
        if ((st != AW_EPROTO || end->complete) && op->resp.len) {
            r->body_len = op->resp.len;
            r->body = aw_buf_take(&op->resp); /* parsed as JSON on first aw_result_json() */
        }
        if (st == AW_OK) r->remote_state = AW_REMOTE_APPLIED;
        else if (end->answered && http >= 200 && http < 300) r->remote_state = AW_REMOTE_APPLIED;
        else r->remote_state = op->maybe_sent ? AW_REMOTE_UNKNOWN : AW_REMOTE_NONE;
        aw_result_setmsg_req(r, op->method, op->url, why);
    }
    aw_op_finish(op, r, end->defer);
}

/* ---------------- public API ---------------- */

int aw_peer_request_async(aw_app *app, const aw_peer_request *req, const aw_call_opts *opts, aw_done_cb cb,
                          void *ud, aw_op **op_out)
{
    if (op_out) *op_out = NULL;
    aw_op *op;
    int r = aw_req_prepare(app, req, opts, cb, ud, &op);
    if (r != AW_OK) return r;
    return aw_req_submit(op, op_out);
}
