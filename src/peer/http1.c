/* The built-in HTTP/1.1 client for plain-http peers (see http1.h for when it is used): origins, connections,
 * connecting and the life of an attempt. The request's bytes and the reading of the answer are in
 * http1_msg.c.
 *
 * Why not libcurl here: a fan-out request through libcurl 7.88 costs the client ~3 times the CPU of the
 * same bytes sent and read with libuv alone, most of it in libcurl's printf-style request formatting
 * and connection bookkeeping (docs/benchmarks.md, twelfth and thirteenth sessions). This client formats a
 * request with memcpy, reads the answer with http-parser (Debian's libhttp-parser), and keeps idle
 * connections per origin on the app's libuv loop. Nothing here parses HTTP by hand.
 *
 * Objects:
 *  - h1_pool: one per origin ("http://host:port"): its Host line, its addresses (cached 60 s like
 *    libcurl's DNS cache; an IP literal needs no lookup) and its idle connections, most recent first.
 *  - h1_conn: one connection and the attempt on it, if any. A connection is kept after an answer that
 *    allows keep-alive and reused by the next request to its origin; an idle one is closed when the peer
 *    closes it or sends anything, after 90 s unused (aw_h1_trim), or when more than net.max_outbound
 *    connections idle in all (the longest unused goes first).
 *  - h1_sock: the libuv TCP handle of a connection and its connect request, allocated apart so that a
 *    connection can be dropped at once while libuv still owes callbacks on the handle (they find
 *    sock->conn == NULL). The engine's shutdown waits for every socket's close callback.
 *
 * An attempt on a reused connection that the peer had closed meanwhile (nothing read back) is sent again
 * once on a new connection, as libcurl does; it does not count as another attempt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer/http1_internal.h"
#include "util/str.h"


/* ---------------- pools ---------------- */

static void pool_free(h1_pool *p)
{
    free(p->key);
    free(p->host);
    free(p->hostln);
    free(p);
}

/* The pool of op's origin, made from op's parsed URL on first use. NULL on OOM / a URL without host. */
static h1_pool *pool_get(aw_h1 *h1, const aw_op *op)
{
    size_t hash = aw_str_hash(op->origin_key);
    size_t b = hash & (h1->tab_n - 1);
    for (h1_pool *p = h1->tab[b]; p; p = p->hnext)
        if (p->hash == hash && !strcmp(p->key, op->origin_key)) return p;
    if (h1->n_pools + 1 > h1->tab_n * 2) {
        size_t nn = h1->tab_n * 4;
        h1_pool **nt = calloc(nn, sizeof *nt);
        if (nt) {
            for (size_t i = 0; i < h1->tab_n; i++)
                for (h1_pool *p = h1->tab[i], *n; p; p = n) {
                    n = p->hnext;
                    p->hnext = nt[p->hash & (nn - 1)];
                    nt[p->hash & (nn - 1)] = p;
                }
            free(h1->tab);
            h1->tab = nt;
            h1->tab_n = nn;
            b = hash & (nn - 1);
        }
    }
    CURLU *own = NULL, *cu = op->cu;
    if (!cu) {
        own = cu = curl_url();
        if (!cu || curl_url_set(cu, CURLUPART_URL, op->url, 0) != CURLUE_OK) {
            curl_url_cleanup(own);
            return NULL;
        }
    }
    char *host = NULL, *port = NULL;
    h1_pool *p = calloc(1, sizeof *p);
    bool ok = p && curl_url_get(cu, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
              curl_url_get(cu, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && strlen(port) < 8;
    if (ok) {
        p->key = strdup(op->origin_key);
        bool bracket = host[0] == '[';
        size_t hl = strlen(host);
        p->host = bracket ? strndup(host + 1, hl >= 2 ? hl - 2 : 0) : strdup(host);
        strcpy(p->port, port);
        bool dflt = !strcmp(port, "80");
        size_t n = 6 + hl + (dflt ? 0 : 1 + strlen(port)) + 2;
        p->hostln = malloc(n + 1);
        if (p->hostln)
            p->hostln_len = (size_t)snprintf(p->hostln, n + 1, "Host: %s%s%s\r\n", host, dflt ? "" : ":",
                                             dflt ? "" : port);
        ok = p->key && p->host && p->hostln;
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(own);
    if (!ok) {
        if (p) pool_free(p);
        return NULL;
    }
    p->hash = hash;
    p->hnext = h1->tab[b];
    h1->tab[b] = p;
    h1->n_pools++;
    return p;
}

static void pool_unlink(aw_h1 *h1, h1_pool *p)
{
    for (h1_pool **pp = &h1->tab[p->hash & (h1->tab_n - 1)]; *pp; pp = &(*pp)->hnext)
        if (*pp == p) {
            *pp = p->hnext;
            h1->n_pools--;
            return;
        }
}

/* ---------------- connections ---------------- */

static void pending_done(aw_h1 *h1)
{
    h1->n_pending--;
    if (h1->shutting && h1->n_pending == 0) aw_app_handle_closed(h1->app);
}

static void sock_closed(uv_handle_t *h)
{
    h1_sock *s = h->data;
    aw_h1 *h1 = s->h1;
    free(s);
    pending_done(h1);
}

static void sock_drop(h1_conn *c)
{
    h1_sock *s = c->sock;
    if (!s) return;
    c->sock = NULL;
    s->conn = NULL;
    uv_close((uv_handle_t *)&s->tcp, sock_closed);
}

/* Take c out of its pool's idle list and the client's (no-op when it is not idle). */
static void idle_unlink(h1_conn *c)
{
    if (!c->idle_at) return;
    c->idle_at = 0;
    if (c->iprev) c->iprev->inext = c->inext;
    else c->pool->idle = c->inext;
    if (c->inext) c->inext->iprev = c->iprev;
    c->inext = c->iprev = NULL;
    aw_h1 *h1 = c->h1;
    if (c->lprev) c->lprev->lnext = c->lnext;
    else h1->lru_head = c->lnext;
    if (c->lnext) c->lnext->lprev = c->lprev;
    else h1->lru_tail = c->lprev;
    c->lnext = c->lprev = NULL;
    h1->n_idle--;
}

static void kick_unlink(h1_conn *c)
{
    if (!c->queued) return;
    c->queued = false;
    aw_h1 *h1 = c->h1;
    if (c->kprev) c->kprev->knext = c->knext;
    else h1->kq_head = c->knext;
    if (c->knext) c->knext->kprev = c->kprev;
    else h1->kq_tail = c->kprev;
    c->knext = c->kprev = NULL;
}

/* Close the connection and free it (its attempt, if any, was detached or is dropped with it). */
static void conn_close(h1_conn *c)
{
    aw_h1 *h1 = c->h1;
    aw_peer_timer_stop(h1->eng, &c->tn);
    idle_unlink(c);
    kick_unlink(c);
    if (c->op) c->op->h1c = NULL;
    if (c->gai) c->gai->conn = NULL;
    sock_drop(c);
    if (c->aprev) c->aprev->anext = c->anext;
    else h1->conns = c->anext;
    if (c->anext) c->anext->aprev = c->aprev;
    c->pool->n_conns--;
    aw_buf_free(&c->hval);
    free(c);
}

/* A new connection of pool p for op's attempt (its deadlines from aw_h1_start). */
static h1_conn *conn_new(aw_h1 *h1, h1_pool *p, aw_op *op)
{
    h1_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->h1 = h1;
    c->pool = p;
    c->op = op;
    op->h1c = c;
    c->attempt_due = op->h1_attempt_due;
    c->connect_due = op->h1_connect_due;
    c->anext = h1->conns;
    if (h1->conns) h1->conns->aprev = c;
    h1->conns = c;
    p->n_conns++;
    return c;
}

static void tn_fire(aw_tnode *n);

static void arm(h1_conn *c, uint64_t due)
{
    uint64_t now = uv_now(c->h1->app->loop);
    c->tn.fire = tn_fire;
    aw_peer_timer_start(c->h1->eng, &c->tn, due > now ? due - now : 0);
}

/* ---------------- ending an attempt ---------------- */

/* Detach op from c; c goes back to its pool when `keep`, else it is closed. */
static aw_op *detach(h1_conn *c, bool keep)
{
    aw_op *op = c->op;
    op->h1c = NULL;
    c->op = NULL;
    aw_h1 *h1 = c->h1;
    if (keep && c->sock && !h1->shutting) {
        aw_peer_timer_stop(h1->eng, &c->tn);
        c->idle_at = uv_now(h1->app->loop) | 1; /* nonzero: idle */
        c->inext = c->pool->idle;
        c->iprev = NULL;
        if (c->inext) c->inext->iprev = c;
        c->pool->idle = c;
        c->lnext = h1->lru_head;
        c->lprev = NULL;
        if (c->lnext) c->lnext->lprev = c;
        else h1->lru_tail = c;
        h1->lru_head = c;
        if (++h1->n_idle > h1->max_idle) conn_close(h1->lru_tail); /* the longest unused, any origin */
    } else {
        conn_close(c);
    }
    return op;
}

static void end_failed(h1_conn *c, int status, bool transient, bool never_left, bool timed_out, bool answered,
                       const char *why)
{
    long http = answered ? (long)c->parser.status_code : 0; /* e.g. a body over the cap: its status */
    aw_op *op = detach(c, false);
    aw_attempt_end e = {.status = status, .http = http, .transient = transient, .never_left = never_left,
                        .timed_out = timed_out, .answered = answered, .why = why};
    aw_req_attempt_end(op, &e);
}

static void conn_begin(h1_conn *c);
static void connect_next(h1_conn *c);

/* The reused connection c died before any answer: send op again on a new connection (once: a new
 * connection is not reused). */
static void resend_fresh(h1_conn *c)
{
    aw_h1 *h1 = c->h1;
    h1_pool *p = c->pool;
    aw_op *op = detach(c, false);
    h1_conn *n = conn_new(h1, p, op);
    if (!n) {
        aw_attempt_end e = {.status = AW_ENOMEM, .why = "out of memory"};
        aw_req_attempt_end(op, &e);
        return;
    }
    conn_begin(n);
}

static void end_answered(h1_conn *c)
{
    long http = (long)c->parser.status_code;
    aw_op *op = detach(c, c->keep);
    aw_req_attempt_answered(op, http);
}

/* The connection ended (EOF or an error) while op waited for its answer. */
static void end_broken(h1_conn *c, int uverr)
{
    if (uverr == UV_EOF && c->got_bytes) {
        aw_h1_parse(c, NULL, 0); /* a body delimited by the close */
        if (c->done) {
            c->keep = false;
            end_answered(c);
            return;
        }
    }
    if (c->reused && !c->got_bytes && !c->h1->shutting) {
        resend_fresh(c);
        return;
    }
    char why[160];
    if (!c->got_bytes) snprintf(why, sizeof why, "connection closed without an answer (%s)", uv_strerror(uverr));
    else snprintf(why, sizeof why, "connection closed before the answer was complete (%s)", uv_strerror(uverr));
    end_failed(c, AW_ENET, true, false, false, false, why);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    h1_sock *s = h->data;
    *buf = uv_buf_init(s->h1->rbuf, sizeof s->h1->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    h1_sock *s = st->data;
    h1_conn *c = s->conn;
    if (!c || nread == 0) return;
    if (!c->op) { /* idle: the peer closed it, or sent what nobody asked for */
        conn_close(c);
        return;
    }
    if (nread < 0) {
        end_broken(c, (int)nread);
        return;
    }
    c->got_bytes = true;
    size_t used = aw_h1_parse(c, buf->base, (size_t)nread);
    if (c->cap_hit) {
        char why[80];
        snprintf(why, sizeof why, "response body over %zu bytes", aw_peer_net(c->h1->eng)->max_response);
        end_failed(c, AW_EPROTO, false, false, false, true, why);
    } else if (c->done) {
        if (used != (size_t)nread) c->keep = false; /* bytes after the answer: do not reuse */
        end_answered(c);
    } else if (c->op->resp.oom) {
        end_failed(c, AW_ENOMEM, false, false, false, true, "out of memory");
    } else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
        char why[160];
        snprintf(why, sizeof why, "malformed answer: %s",
                 http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
        end_failed(c, AW_EPROTO, false, false, false, false, why);
    }
}

/* ---------------- requests ---------------- */

static void on_written(uv_write_t *w, int status)
{
    h1_write *wr = (h1_write *)w;
    h1_conn *c = wr->sock->conn;
    uint64_t seq = wr->seq;
    free(wr);
    if (status == 0 || !c || !c->op || c->seq != seq || c->done) return;
    end_broken(c, status);
}

/* Write op's request on the connected c (failures act from the timer: this may run inside a start call). */
static void send_request(h1_conn *c)
{
    c->sent = c->done = c->keep = c->cap_hit = c->got_bytes = false;
    size_t len = 0;
    h1_write *wr = aw_h1_request(c, &len);
    if (!wr) {
        c->deferred = UV_ENOMEM;
        arm(c, 0);
        return;
    }
    wr->sock = c->sock;
    wr->seq = ++c->seq;
    c->sent = true;
    /* Most requests fit the socket buffer: write them now. uv_write alone would write just as directly,
     * but its completion re-arms the handle's epoll registration (libuv 1.44 issues an EPOLL_CTL_MOD per
     * uv_write): one more system call per request. The rest, if any, and any error go through uv_write. */
    uv_stream_t *st = (uv_stream_t *)&c->sock->tcp;
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)len);
    int n = uv_try_write(st, &b, 1);
    if (n == (int)len) {
        free(wr);
        arm(c, c->attempt_due);
        return;
    }
    if (n > 0) b = uv_buf_init(wr->data + n, (unsigned)(len - (size_t)n));
    int r = uv_write(&wr->req, st, &b, 1, on_written);
    if (r != 0) {
        free(wr);
        c->sent = false;
        c->deferred = r;
        arm(c, 0);
        return;
    }
    arm(c, c->attempt_due);
}

static void on_connected(uv_connect_t *req, int status)
{
    h1_sock *s = req->data;
    h1_conn *c = s->conn;
    if (!c) return;
    if (status != 0) {
        c->last_err = status;
        c->addr_i++;
        connect_next(c);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&s->tcp, 1);
    int r = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
    if (r != 0) {
        end_failed(c, AW_ENET, true, true, false, false, uv_strerror(r));
        return;
    }
    send_request(c);
}

/* Connect to the pool's address c->addr_i, skipping refused private ones; the attempt fails when none is
 * left. Never inside a start call (from the timer or a libuv callback). */
static void connect_next(h1_conn *c)
{
    aw_h1 *h1 = c->h1;
    h1_pool *p = c->pool;
    sock_drop(c);
    bool deny = aw_peer_net(h1->eng)->deny_private_peers;
    while (c->addr_i < p->n_addrs && deny && aw_addr_is_private((struct sockaddr *)&p->addrs[c->addr_i])) {
        c->op->denied = true;
        c->addr_i++;
    }
    if (c->addr_i >= p->n_addrs) {
        if (c->op->denied && !c->last_err) {
            end_failed(c, AW_ENET, false, true, false, false,
                       "peer address is private or loopback (deny_private_peers)");
            return;
        }
        char why[200];
        snprintf(why, sizeof why, "cannot connect to %s port %s: %s", p->host, p->port,
                 c->last_err ? uv_strerror(c->last_err) : "no address");
        c->op->denied = false;
        end_failed(c, AW_ENET, true, true, false, false, why);
        return;
    }
    h1_sock *s = calloc(1, sizeof *s);
    if (!s) {
        end_failed(c, AW_ENOMEM, false, true, false, false, "out of memory");
        return;
    }
    s->h1 = h1;
    s->conn = c;
    int r = uv_tcp_init(h1->app->loop, &s->tcp);
    if (r != 0) {
        free(s);
        end_failed(c, AW_ENET, true, true, false, false, uv_strerror(r));
        return;
    }
    h1->n_pending++;
    s->tcp.data = s;
    s->creq.data = s;
    c->sock = s;
    r = uv_tcp_connect(&s->creq, &s->tcp, (struct sockaddr *)&p->addrs[c->addr_i], on_connected);
    if (r != 0) { /* e.g. no route: the next address, from the timer */
        c->last_err = r;
        c->addr_i++;
        sock_drop(c);
        c->deferred = r;
        arm(c, 0);
        return;
    }
    arm(c, c->connect_due < c->attempt_due ? c->connect_due : c->attempt_due);
}

static void fill_addrs(h1_pool *p, const struct addrinfo *ai)
{
    p->n_addrs = 0;
    for (int fam = 0; fam < 2; fam++) /* IPv4 first, then IPv6 */
        for (const struct addrinfo *a = ai; a && p->n_addrs < H1_MAX_ADDRS; a = a->ai_next) {
            if (a->ai_family != (fam ? AF_INET6 : AF_INET) || a->ai_addrlen > sizeof p->addrs[0]) continue;
            memcpy(&p->addrs[p->n_addrs++], a->ai_addr, a->ai_addrlen);
        }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    h1_gai *g = req->data;
    aw_h1 *h1 = g->h1;
    h1_conn *c = g->conn;
    if (c) {
        c->gai = NULL;
        h1_pool *p = c->pool;
        if (status == 0) fill_addrs(p, res);
        if (status != 0 || p->n_addrs == 0) {
            p->n_addrs = 0;
            char why[200];
            snprintf(why, sizeof why, "cannot resolve host %s: %s", p->host,
                     status ? uv_strerror(status) : "no IPv4 or IPv6 address");
            end_failed(c, AW_ENET, true, true, false, false, why);
        } else {
            p->addrs_until = uv_now(h1->app->loop) + H1_DNS_TTL_MS;
            connect_next(c);
        }
    }
    if (res) uv_freeaddrinfo(res);
    free(g);
    pending_done(h1);
}

/* A new connection: addresses from the pool, an address literal, or a lookup (from the timer). */
static void conn_begin(h1_conn *c)
{
    aw_h1 *h1 = c->h1;
    h1_pool *p = c->pool;
    c->addr_i = 0;
    uint64_t now = uv_now(h1->app->loop);
    if (p->n_addrs && now < p->addrs_until) {
        connect_next(c);
        return;
    }
    int port = atoi(p->port);
    struct sockaddr_storage *a = &p->addrs[0];
    if (uv_ip4_addr(p->host, port, (struct sockaddr_in *)a) == 0 ||
        (strchr(p->host, ':') && uv_ip6_addr(p->host, port, (struct sockaddr_in6 *)a) == 0)) {
        p->n_addrs = 1; /* an address literal: no lookup, ever */
        p->addrs_until = UINT64_MAX;
        connect_next(c);
        return;
    }
    h1_gai *g = calloc(1, sizeof *g);
    if (!g) {
        end_failed(c, AW_ENOMEM, false, true, false, false, "out of memory");
        return;
    }
    g->h1 = h1;
    g->conn = c;
    g->req.data = g;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
    int r = uv_getaddrinfo(h1->app->loop, &g->req, on_resolved, p->host, p->port, &hints);
    if (r != 0) {
        free(g);
        char why[200];
        snprintf(why, sizeof why, "cannot resolve host %s: %s", p->host, uv_strerror(r));
        end_failed(c, AW_ENET, true, true, false, false, why);
        return;
    }
    h1->n_pending++;
    c->gai = g;
    arm(c, c->connect_due < c->attempt_due ? c->connect_due : c->attempt_due);
}

static void tn_fire(aw_tnode *n)
{
    h1_conn *c = (h1_conn *)((char *)n - offsetof(h1_conn, tn));
    if (!c->op) return;
    if (c->deferred) {
        int e = c->deferred;
        c->deferred = 0;
        if (e == UV_ENOMEM) end_failed(c, AW_ENOMEM, false, !c->sent, false, false, "out of memory");
        else if (!c->connected) connect_next(c);
        else end_broken(c, e);
        return;
    }
    if (!c->connected) {
        end_failed(c, AW_ENET, true, true, true, false, "connect timed out");
        return;
    }
    if (uv_now(c->h1->app->loop) < c->attempt_due) { /* the connect deadline was armed: now the answer's */
        arm(c, c->attempt_due);
        return;
    }
    end_failed(c, AW_ETIMEDOUT, true, !c->sent, true, false, "no answer within the attempt timeout");
}

static void on_kick(uv_idle_t *h)
{
    aw_h1 *h1 = h->data;
    for (int i = 0; i < H1_CONNECTS_PER_TURN && h1->kq_head; i++) {
        h1_conn *c = h1->kq_head;
        kick_unlink(c);
        conn_begin(c);
    }
    if (!h1->kq_head && h1->kick_on) {
        uv_idle_stop(&h1->kick);
        h1->kick_on = false;
    }
}

static void kick_closed(uv_handle_t *h) { pending_done(h->data); }

/* ---------------- the client ---------------- */

aw_h1 *aw_h1_new(aw_peer_engine *eng, aw_app *app)
{
    aw_h1 *h1 = calloc(1, sizeof *h1);
    if (!h1) return NULL;
    h1->eng = eng;
    h1->app = app;
    h1->tab_n = 64;
    h1->max_idle = aw_peer_net(eng)->max_outbound;
    h1->tab = calloc(h1->tab_n, sizeof *h1->tab);
    if (!h1->tab) {
        free(h1);
        return NULL;
    }
    return h1;
}

bool aw_h1_takes(const aw_h1 *h1, const aw_op *op)
{
    return h1 && !op->basic_user && !strncmp(op->origin_key, "http://", 7);
}

void aw_h1_start(aw_h1 *h1, aw_op *op, uint64_t remain_ms)
{
    const aw_net_config *net = aw_peer_net(h1->eng);
    uint64_t now = uv_now(h1->app->loop);
    op->h1_attempt_due = now + (net->attempt_ms < remain_ms ? net->attempt_ms : remain_ms);
    op->h1_connect_due = now + (net->connect_ms < remain_ms ? net->connect_ms : remain_ms);
    h1_pool *p = pool_get(h1, op);
    if (p && p->idle) {
        h1_conn *c = p->idle; /* the most recently used: its memory is the likeliest in cache */
        idle_unlink(c);
        c->op = op;
        op->h1c = c;
        c->reused = true;
        c->deferred = 0;
        c->attempt_due = op->h1_attempt_due;
        send_request(c);
        return;
    }
    h1_conn *c = p ? conn_new(h1, p, op) : NULL;
    if (!c) {
        aw_attempt_end e = {.status = AW_ENOMEM, .never_left = true, .why = "out of memory", .defer = true};
        aw_req_attempt_end(op, &e);
        return;
    }
    arm(c, c->connect_due < c->attempt_due ? c->connect_due : c->attempt_due);
    c->queued = true; /* begins from on_kick, never inside this start call */
    c->kprev = h1->kq_tail;
    if (h1->kq_tail) h1->kq_tail->knext = c;
    else h1->kq_head = c;
    h1->kq_tail = c;
    if (!h1->kick_init) { /* made on first use: until then there is no handle to close */
        if (uv_idle_init(h1->app->loop, &h1->kick) != 0) {
            c->deferred = UV_ENOMEM;
            kick_unlink(c);
            arm(c, 0);
            return;
        }
        h1->kick.data = h1;
        h1->kick_init = true;
    }
    if (!h1->kick_on) {
        uv_idle_start(&h1->kick, on_kick);
        h1->kick_on = true;
    }
}

void aw_h1_abort(aw_op *op)
{
    h1_conn *c = op->h1c;
    if (!c) return;
    if (c->sent) op->maybe_sent = true;
    detach(c, false);
}

void aw_h1_trim(aw_h1 *h1)
{
    if (!h1) return;
    uint64_t now = uv_now(h1->app->loop);
    while (h1->lru_tail && now - h1->lru_tail->idle_at >= H1_IDLE_MAX_MS) conn_close(h1->lru_tail);
    for (size_t b = 0; b < h1->tab_n; b++) {
        for (h1_pool *p = h1->tab[b], *next; p; p = next) {
            next = p->hnext;
            if (p->n_conns == 0 && (p->addrs_until == UINT64_MAX || now >= p->addrs_until)) {
                pool_unlink(h1, p);
                pool_free(p);
            }
        }
    }
}

void aw_h1_shutdown(aw_h1 *h1)
{
    if (!h1 || h1->shutting) return;
    h1->shutting = true;
    while (h1->conns) {
        h1_conn *c = h1->conns;
        if (c->op) aw_h1_abort(c->op); /* not expected: the engine aborted every op first */
        else conn_close(c);
    }
    h1->app->closing_handles++;
    h1->n_pending++;
    if (h1->kick_init) {
        h1->n_pending++;
        uv_close((uv_handle_t *)&h1->kick, kick_closed);
    }
    pending_done(h1); /* gives the count back now if nothing is pending */
}

void aw_h1_free(aw_h1 *h1)
{
    if (!h1) return;
    while (h1->conns) { /* only without a shutdown: the handles are left to the loop's owner */
        h1_conn *c = h1->conns;
        if (c->sock) c->sock->conn = NULL;
        c->sock = NULL;
        if (c->op) c->op->h1c = NULL;
        c->op = NULL;
        if (c->gai) c->gai->conn = NULL;
        h1->conns = c->anext;
        aw_buf_free(&c->hval);
        free(c);
    }
    for (size_t b = 0; b < h1->tab_n; b++)
        for (h1_pool *p = h1->tab[b], *next; p; p = next) {
            next = p->hnext;
            pool_free(p);
        }
    free(h1->tab);
    free(h1);
}
