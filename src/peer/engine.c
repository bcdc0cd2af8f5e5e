/* The peer engine: one CURLM per app for its whole life, driven by the app's libuv loop
 * (curl_multi_socket_action over a private epoll set polled by one uv_poll, one uv_timer for curl),
 * the built-in HTTP/1.1 client for plain-http peers (http1.c, which request.c picks per attempt),
 * one uv_timer for the engine's own timers (a min-heap of deadlines, backoffs, deferred completions and
 * the built-in client's connection timers), and the two counting gates (net.max_outbound in total,
 * net.per_origin per scheme+host+port) with FIFO queues, which both transports pass through. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "peer/engine.h"
#include "peer/http1.h"
#include "peer/internal.h"
#include "util/rand.h"

/* libcurl 7.88 scans connection lists per transfer: curl_multi_remove_handle() walks the whole
 * connection cache (close_connect_only) and reuse walks every connection to the host (busy ones
 * included), which makes a fan-out of N transfers O(N^2) once N connections are cached (10,000
 * transfers to 16 hosts: ~0.9 s in removals alone). Those walks also miss the cache on every connection
 * they pass. The single CURLM keeps driving every transfer and owns the DNS cache; connections and TLS
 * sessions live in up to AW_PEER_NSHARES curl_share objects, made on first use. An origin's transfers
 * run in lanes of AW_PEER_LANE: a transfer takes the lowest lane with a free place, and each lane of
 * an origin has a share of its own (by hash). A lane never has more than AW_PEER_LANE transfers at once,
 * and libcurl opens a connection only when every one of the lane's is busy, so no lane ever holds more
 * than AW_PEER_LANE connections to its origin: every scan is short. Low lanes are taken first, so an
 * origin's idle connections are reused much as from one pool (its connections ~ its peak concurrency,
 * rounded up to a lane). Loop thread only, so the shares need no locks. */
#define AW_PEER_NSHARES 1024 /* power of 2 */
#define AW_PEER_LANE 16
#define AW_PEER_POOL_KEEP 32
#define AW_PEER_POOL_IDLE_MS 10000

/* Curl's sockets live in a private epoll set (one uv_poll watches its fd), indexed by fd. A socket
 * stays registered while its connection idles in the cache, so a reused connection usually costs no
 * epoll_ctl at all; uv_poll per socket cost ~6 epoll_ctl per request (stop/start resets libuv's
 * registration). curl tells us when it closes a socket (CURLOPT_CLOSESOCKETFUNCTION): the entry is
 * dropped and its generation bumped so that stale events from the same batch are ignored. Only sockets
 * opened through CURLOPT_OPENSOCKETFUNCTION stay registered while idle. */
typedef struct aw_csock {
    uint32_t gen;
    uint32_t mask;  /* registered epoll events; 0 = not in the set */
    bool active;    /* curl watches it (between sock_cb IN/OUT and REMOVE) */
    bool ours;      /* opened through open_sock, so its close is reported (other sockets, e.g. a resolver's
                     * socketpair, may be closed unannounced: they leave the set at REMOVE) */
} aw_csock;

typedef struct aw_origin {
    char *key;
    size_t hash;        /* of key */
    uint16_t *lanes;    /* transfers in each lane (see AW_PEER_LANE) */
    uint32_t n_lanes;
    uint32_t in_flight;
    aw_op *qhead, *qtail;
    struct aw_origin *hnext;
} aw_origin;

struct aw_peer_engine {
    aw_app *app;
    aw_net_config net;
    CURLM *multi;
    aw_h1 *h1;              /* the built-in client for plain-http peers; NULL = libcurl for all */
    uv_timer_t curl_timer;
    uv_timer_t op_timer;
    bool shutting;
    bool closed;            /* uv handles closed */
    size_t n_active;        /* undelivered ops */
    aw_op *ops_head;        /* undelivered ops */
    int epfd;               /* private epoll set of curl sockets */
    uv_poll_t ep_poll;
    aw_csock *cs;           /* indexed by fd */
    size_t cs_n;
    /* timer heap */
    aw_tnode **heap;
    size_t heap_n, heap_cap;
    uint64_t armed_due;     /* UINT64_MAX: not armed */
    bool in_timer_cb;
    /* gates */
    uint32_t in_flight;
    int pump_depth;         /* origins are not freed while a pump may still look at them */
    aw_op *gq_head, *gq_tail;
    aw_origin **otab;
    size_t otab_n;          /* buckets (power of 2) */
    size_t n_origins;
    /* easy handle pool */
    CURL **pool;
    size_t pool_n, pool_cap;
    uint64_t pool_used_at;  /* loop time of the last aw_peer_easy_get */
    bool env_proxy;         /* a proxy variable was set at start: libcurl reads the environment per transfer */
    /* connection caches, one per lane of an origin (see aw_peer_share_for); NULL until first used */
    CURLSH *shares[AW_PEER_NSHARES];
    /* request ids */
    char rid_prefix[17];
    uint64_t rid_ctr;
};

aw_peer_engine *aw_peer_eng(aw_app *app) { return app ? app->peer : NULL; }
bool aw_peer_eng_accepting(aw_app *app) { return app && app->peer && !app->peer->shutting && !app->stopping; }
CURLM *aw_peer_multi(aw_peer_engine *eng) { return eng->multi; }
const aw_net_config *aw_peer_net(aw_peer_engine *eng) { return &eng->net; }
aw_h1 *aw_peer_h1(aw_peer_engine *eng) { return eng->h1; }
uint64_t aw_peer_now(aw_peer_engine *eng)
{
    uv_update_time(eng->app->loop); /* the cached loop time may be stale by a long callback */
    return uv_now(eng->app->loop);
}

void aw_peer_next_request_id(aw_peer_engine *eng, char out[40])
{
    /* prefix + the counter in 16 hex digits; by hand, as it runs for every request */
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(eng->rid_prefix);
    memcpy(out, eng->rid_prefix, n);
    uint64_t v = ++eng->rid_ctr;
    for (int i = 15; i >= 0; i--, v >>= 4) out[n + (size_t)i] = hex[v & 15];
    out[n + 16] = 0;
}

/* ---------------- timer heap ---------------- */

static void heap_swap(aw_tnode **h, size_t a, size_t b)
{
    aw_tnode *t = h[a];
    h[a] = h[b];
    h[b] = t;
    h[a]->idx = a + 1;
    h[b]->idx = b + 1;
}

static void heap_up(aw_tnode **h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p]->due <= h[i]->due) break;
        heap_swap(h, p, i);
        i = p;
    }
}

static void heap_down(aw_tnode **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l]->due < h[m]->due) m = l;
        if (r < n && h[r]->due < h[m]->due) m = r;
        if (m == i) break;
        heap_swap(h, m, i);
        i = m;
    }
}

static void on_op_timer(uv_timer_t *t);

static void heap_arm(aw_peer_engine *eng)
{
    if (eng->closed || eng->in_timer_cb) return;
    if (eng->heap_n == 0) {
        if (eng->armed_due != UINT64_MAX) uv_timer_stop(&eng->op_timer);
        eng->armed_due = UINT64_MAX;
        return;
    }
    uint64_t due = eng->heap[0]->due;
    if (due == eng->armed_due) return;
    uint64_t now = uv_now(eng->app->loop);
    eng->armed_due = due;
    uv_timer_start(&eng->op_timer, on_op_timer, due > now ? due - now : 0, 0);
}

static void heap_remove(aw_peer_engine *eng, aw_tnode *n)
{
    size_t i = n->idx - 1;
    n->idx = 0;
    eng->heap_n--;
    if (i == eng->heap_n) return;
    eng->heap[i] = eng->heap[eng->heap_n];
    eng->heap[i]->idx = i + 1;
    heap_up(eng->heap, i);
    heap_down(eng->heap, eng->heap_n, eng->heap[i]->idx - 1);
}

void aw_peer_timer_stop(aw_peer_engine *eng, aw_tnode *n)
{
    if (!n->idx) return;
    heap_remove(eng, n);
    heap_arm(eng);
}

void aw_peer_timer_start(aw_peer_engine *eng, aw_tnode *n, uint64_t delay_ms)
{
    if (n->idx) heap_remove(eng, n);
    if (eng->heap_n == eng->heap_cap) {
        size_t nc = eng->heap_cap ? eng->heap_cap * 2 : 256;
        aw_tnode **nh = realloc(eng->heap, nc * sizeof *nh);
        if (!nh) abort(); /* a timer that cannot be armed breaks the exactly-once contract */
        eng->heap = nh;
        eng->heap_cap = nc;
    }
    n->due = uv_now(eng->app->loop) + delay_ms;
    eng->heap[eng->heap_n++] = n;
    n->idx = eng->heap_n;
    heap_up(eng->heap, eng->heap_n - 1);
    heap_arm(eng);
}

static void on_op_timer(uv_timer_t *t)
{
    aw_peer_engine *eng = t->data;
    eng->armed_due = UINT64_MAX;
    eng->in_timer_cb = true;
    uv_update_time(eng->app->loop);
    uint64_t now = uv_now(eng->app->loop);
    while (eng->heap_n && eng->heap[0]->due <= now) {
        aw_tnode *n = eng->heap[0];
        heap_remove(eng, n);
        n->fire(n);
    }
    eng->in_timer_cb = false;
    heap_arm(eng);
}

/* ---------------- ops: registry and delivery ---------------- */

void aw_op_register(aw_peer_engine *eng, aw_op *op)
{
    op->eng = eng;
    op->anext = eng->ops_head;
    op->aprev = NULL;
    if (eng->ops_head) eng->ops_head->aprev = op;
    eng->ops_head = op;
    eng->n_active++;
}

static void op_unlink(aw_op *op)
{
    aw_peer_engine *eng = op->eng;
    if (op->aprev) op->aprev->anext = op->anext;
    else eng->ops_head = op->anext;
    if (op->anext) op->anext->aprev = op->aprev;
    op->anext = op->aprev = NULL;
    eng->n_active--;
}

static void op_deliver(aw_op *op)
{
    if (op->delivered) return;
    op->delivered = true;
    aw_peer_timer_stop(op->eng, &op->tn);
    op_unlink(op);
    aw_result *res = op->res;
    op->res = NULL;
    if (op->cb) op->cb(res, op->ud);
    aw_result_unref(res);
    aw_op_unref(op); /* the engine's reference */
}

void aw_op_tn_fire(aw_tnode *n)
{
    aw_op *op = (aw_op *)((char *)n - offsetof(aw_op, tn));
    if (op->tn_kind == TN_COMPLETE) {
        op_deliver(op);
        return;
    }
    if (op->kind == AW_OPK_REQUEST) aw_req_timer_fire(op);
}

void aw_op_finish(aw_op *op, aw_result *res, bool defer)
{
    if (op->state == OPS_DONE) {
        aw_result_unref(res);
        return;
    }
    op->state = OPS_DONE;
    if (!res) res = aw_result_new(AW_ENOMEM);
    if (!res) abort();
    if (op->xform) op->xform(op, res);
    op->res = res;
    if (defer && !op->eng->closed) {
        op->tn_kind = TN_COMPLETE;
        op->tn.fire = aw_op_tn_fire;
        aw_peer_timer_start(op->eng, &op->tn, 0);
    } else {
        op_deliver(op);
    }
}

aw_op *aw_op_custom_new(aw_app *app, aw_done_cb cb, void *ud,
                        void (*cancel)(aw_op *op, int status, void *cud), void *cud)
{
    if (!aw_peer_eng_accepting(app)) return NULL;
    aw_op *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    atomic_init(&op->refs, 1);
    op->app = app;
    op->kind = AW_OPK_CUSTOM;
    op->state = OPS_RUNNING;
    op->cb = cb;
    op->ud = ud;
    op->custom_cancel = cancel;
    op->custom_ud = cud;
    op->tn.fire = aw_op_tn_fire;
    aw_op_register(app->peer, op);
    return op;
}

void aw_op_custom_complete(aw_op *op, aw_result *res, bool defer) { aw_op_finish(op, res, defer); }

/* Abort a running op with `status`; completion is deferred (defer) or immediate. */
static void op_abort(aw_op *op, int status, bool defer)
{
    if (op->state == OPS_DONE) return;
    if (op->kind == AW_OPK_REQUEST) {
        aw_req_abort(op, status);
        if (op->state != OPS_DONE) {
            aw_result *r = aw_result_new(status);
            if (r) {
                r->attempts = op->attempts;
                r->remote_state = op->maybe_sent ? AW_REMOTE_UNKNOWN : AW_REMOTE_NONE;
                aw_result_setmsg_req(r, op->method, op->url, aw_strerror(status));
            }
            aw_op_finish(op, r, defer);
        }
    } else if (op->custom_cancel) {
        op->custom_cancel(op, status, op->custom_ud);
        if (op->state != OPS_DONE && !defer) aw_op_finish(op, aw_result_new(status), false);
    } else {
        aw_op_finish(op, aw_result_new(status), defer);
    }
}

int aw_op_cancel(aw_op *op)
{
    if (!op) return AW_EINVAL;
    if (op->state == OPS_DONE || op->cancel_pending) return AW_EALREADY;
    if (!op->eng) { /* started from another thread; its start has not reached the loop yet */
        op->cancel_pending = true;
        return AW_OK;
    }
    op_abort(op, AW_ECANCELED, true);
    return AW_OK;
}

/* ---------------- curl glue ---------------- */

static void check_multi_info(aw_peer_engine *eng)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(eng->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        aw_op *op = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&op);
        if (op && op->easy == e) aw_req_curl_done(op, rc);
        else {
            curl_multi_remove_handle(eng->multi, e);
            aw_peer_easy_put(eng, e);
        }
    }
}

static aw_csock *csock_at(aw_peer_engine *eng, curl_socket_t fd, bool grow)
{
    if (fd < 0) return NULL;
    if ((size_t)fd >= eng->cs_n) {
        if (!grow) return NULL;
        size_t n = eng->cs_n ? eng->cs_n : 256;
        while (n <= (size_t)fd) n *= 2;
        aw_csock *cs = realloc(eng->cs, n * sizeof *cs);
        if (!cs) return NULL;
        memset(cs + eng->cs_n, 0, (n - eng->cs_n) * sizeof *cs);
        eng->cs = cs;
        eng->cs_n = n;
    }
    return &eng->cs[fd];
}

static int csock_ctl(aw_peer_engine *eng, curl_socket_t fd, aw_csock *c, uint32_t mask)
{
    struct epoll_event ev = {.events = mask, .data.u64 = (uint64_t)c->gen << 32 | (uint32_t)fd};
    int op = c->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(eng->epfd, op, fd, &ev) != 0) {
        op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(eng->epfd, op, fd, &ev) != 0) return -1;
    }
    c->mask = mask;
    return 0;
}

static void csock_forget(aw_peer_engine *eng, curl_socket_t fd, aw_csock *c)
{
    if (c->mask) epoll_ctl(eng->epfd, EPOLL_CTL_DEL, fd, NULL);
    c->mask = 0;
    c->active = false;
    c->ours = false;
    c->gen++;
}

void aw_peer_sock_opened(aw_peer_engine *eng, curl_socket_t fd)
{
    aw_csock *c = csock_at(eng, fd, true);
    if (!c) return;
    if (c->mask) csock_forget(eng, fd, c); /* a stale entry of an earlier socket with this number */
    c->ours = true;
}

static int close_sock(void *clientp, curl_socket_t fd)
{
    aw_peer_engine *eng = clientp;
    aw_csock *c = csock_at(eng, fd, false);
    if (c) csock_forget(eng, fd, c);
    return close(fd);
}

/* Up to 4 batches per loop iteration; the set is level-triggered, so the rest waits one turn. */
static void on_epoll(uv_poll_t *h, int status, int events)
{
    aw_peer_engine *eng = h->data;
    struct epoll_event evs[256];
    for (int round = 0; round < 4 && eng->multi; round++) {
        int n = epoll_wait(eng->epfd, evs, 256, 0);
        if (n <= 0) break;
        for (int i = 0; i < n && eng->multi; i++) {
            curl_socket_t fd = (curl_socket_t)(uint32_t)evs[i].data.u64;
            uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
            aw_csock *c = csock_at(eng, fd, false);
            if (!c || c->gen != gen || !c->mask) continue; /* closed earlier in this batch */
            if (!c->active) {
                /* an idle cached connection got data or EOF: stop watching it; curl checks a
                 * connection before reusing it and drops a dead one */
                epoll_ctl(eng->epfd, EPOLL_CTL_DEL, fd, NULL);
                c->mask = 0;
                continue;
            }
            uint32_t e = evs[i].events;
            int flags = 0;
            if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) flags |= CURL_CSELECT_IN;
            if (e & (EPOLLOUT | EPOLLERR)) flags |= CURL_CSELECT_OUT;
            if (e & EPOLLERR) flags |= CURL_CSELECT_ERR;
            int running;
            curl_multi_socket_action(eng->multi, fd, flags, &running);
        }
        check_multi_info(eng);
        if (n < 256) break;
    }
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    aw_peer_engine *eng = userp;
    if (what == CURL_POLL_REMOVE) {
        aw_csock *c = csock_at(eng, fd, false);
        if (!c) return 0;
        if (c->ours) c->active = false; /* stays in the set while the connection idles */
        else csock_forget(eng, fd, c);
        return 0;
    }
    if (eng->closed) return -1;
    aw_csock *c = csock_at(eng, fd, true);
    if (!c) return -1;
    uint32_t mask = 0;
    if (what & CURL_POLL_IN) mask |= EPOLLIN;
    if (what & CURL_POLL_OUT) mask |= EPOLLOUT;
    c->active = true;
    if (mask != c->mask && csock_ctl(eng, fd, c, mask) != 0) return -1;
    return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    aw_peer_engine *eng = t->data;
    int running;
    curl_multi_socket_action(eng->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi_info(eng);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    aw_peer_engine *eng = userp;
    if (eng->closed) return 0;
    if (timeout_ms < 0) uv_timer_stop(&eng->curl_timer);
    else uv_timer_start(&eng->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

static CURLSH *share_at(aw_peer_engine *eng, size_t i)
{
    i &= AW_PEER_NSHARES - 1;
    if (!eng->shares[i]) {
        CURLSH *sh = curl_share_init();
        if (!sh) return NULL; /* the transfer uses the multi's own cache */
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        eng->shares[i] = sh;
    }
    return eng->shares[i];
}

CURLSH *aw_peer_share_for(aw_peer_engine *eng, aw_op *op)
{
    aw_origin *o = op->holds_origin ? op->origin : NULL;
    if (!o) return share_at(eng, aw_str_hash(op->origin_key));
    uint32_t i = 0;
    while (i < o->n_lanes && o->lanes[i] >= AW_PEER_LANE) i++;
    size_t share = o->hash + i * 2654435761u; /* the lane's share, spread by a multiplicative hash */
    if (i == o->n_lanes) {
        uint32_t nn = o->n_lanes ? o->n_lanes * 2 : 4;
        uint16_t *nl = realloc(o->lanes, nn * sizeof *nl);
        if (!nl) return share_at(eng, share); /* not counted: OOM on bookkeeping */
        memset(nl + o->n_lanes, 0, (nn - o->n_lanes) * sizeof *nl);
        o->lanes = nl;
        o->n_lanes = nn;
    }
    o->lanes[i]++;
    op->lane = i + 1;
    return share_at(eng, share);
}

CURL *aw_peer_easy_get(aw_peer_engine *eng, bool *fresh)
{
    eng->pool_used_at = uv_now(eng->app->loop);
    *fresh = eng->pool_n == 0;
    CURL *e = eng->pool_n ? eng->pool[--eng->pool_n] : curl_easy_init();
    if (e && *fresh) {
        /* the connection a transfer opens remembers these */
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_sock);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, eng);
        /* No proxy variable at start: say so, or libcurl looks up five variables for every transfer. */
        if (!eng->env_proxy) {
            curl_easy_setopt(e, CURLOPT_PROXY, "");
            curl_easy_setopt(e, CURLOPT_NOPROXY, "");
        }
    }
    return e;
}

void aw_peer_easy_put(aw_peer_engine *eng, CURL *e)
{
    if (!e) return;
    if (eng->pool_n < eng->pool_cap && !eng->closed) {
        /* Not reset (curl_easy_reset re-initialises every option, a measurable part of a request): the
         * next launch sets every per-transfer option again. Drop what points into the finished op. */
        curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
        curl_easy_setopt(e, CURLOPT_CURLU, NULL);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        eng->pool[eng->pool_n++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

/* ---------------- gates ---------------- */

static aw_origin *origin_get(aw_peer_engine *eng, const char *key, bool create)
{
    size_t b = aw_str_hash(key) & (eng->otab_n - 1);
    for (aw_origin *o = eng->otab[b]; o; o = o->hnext)
        if (!strcmp(o->key, key)) return o;
    if (!create) return NULL;
    if (eng->n_origins + 1 > eng->otab_n * 2) { /* grow */
        size_t nn = eng->otab_n * 4;
        aw_origin **nt = calloc(nn, sizeof *nt);
        if (nt) {
            for (size_t i = 0; i < eng->otab_n; i++) {
                aw_origin *o = eng->otab[i];
                while (o) {
                    aw_origin *n = o->hnext;
                    size_t nb = aw_str_hash(o->key) & (nn - 1);
                    o->hnext = nt[nb];
                    nt[nb] = o;
                    o = n;
                }
            }
            free(eng->otab);
            eng->otab = nt;
            eng->otab_n = nn;
            b = aw_str_hash(key) & (nn - 1);
        }
    }
    aw_origin *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->key = strdup(key);
    if (!o->key) {
        free(o);
        return NULL;
    }
    o->hash = aw_str_hash(key);
    o->hnext = eng->otab[b];
    eng->otab[b] = o;
    eng->n_origins++;
    return o;
}

static void origin_maybe_free(aw_peer_engine *eng, aw_origin *o)
{
    if (o->in_flight || o->qhead || eng->pump_depth) return;
    for (uint32_t i = 0; i < o->n_lanes; i++) assert(o->lanes[i] == 0); /* every transfer gave its place back */
    size_t b = aw_str_hash(o->key) & (eng->otab_n - 1);
    for (aw_origin **pp = &eng->otab[b]; *pp; pp = &(*pp)->hnext) {
        if (*pp == o) {
            *pp = o->hnext;
            eng->n_origins--;
            free(o->key);
            free(o->lanes);
            free(o);
            return;
        }
    }
}

static void q_push(aw_op **head, aw_op **tail, aw_op *op)
{
    op->qnext = NULL;
    op->qprev = *tail;
    if (*tail) (*tail)->qnext = op;
    else *head = op;
    *tail = op;
}

static void q_remove(aw_op **head, aw_op **tail, aw_op *op)
{
    if (op->qprev) op->qprev->qnext = op->qnext;
    else *head = op->qnext;
    if (op->qnext) op->qnext->qprev = op->qprev;
    else *tail = op->qprev;
    op->qnext = op->qprev = NULL;
}

/* Holding an origin slot: take a global slot or queue for one. */
static bool gate_global(aw_op *op)
{
    aw_peer_engine *eng = op->eng;
    if (eng->gq_head || eng->in_flight >= eng->net.max_outbound) {
        op->state = OPS_WAIT_GLOBAL;
        q_push(&eng->gq_head, &eng->gq_tail, op);
        return false;
    }
    eng->in_flight++;
    op->holds_global = true;
    return true;
}

bool aw_gate_acquire(aw_op *op)
{
    aw_peer_engine *eng = op->eng;
    aw_origin *o = origin_get(eng, op->origin_key, true);
    if (!o) return true; /* OOM on bookkeeping: do not block the request */
    op->origin = o;
    if (o->qhead || o->in_flight >= eng->net.per_origin) {
        op->state = OPS_WAIT_ORIGIN;
        q_push(&o->qhead, &o->qtail, op);
        return false;
    }
    o->in_flight++;
    op->holds_origin = true;
    return gate_global(op);
}

static void pump(aw_peer_engine *eng, aw_origin *o)
{
    /* Origin waiters first move to the global gate (FIFO), then global waiters launch. */
    while (o && o->qhead && o->in_flight < eng->net.per_origin) {
        aw_op *w = o->qhead;
        q_remove(&o->qhead, &o->qtail, w);
        o->in_flight++;
        w->holds_origin = true;
        if (gate_global(w)) aw_req_launch_or_queue(w);
    }
    while (eng->gq_head && eng->in_flight < eng->net.max_outbound) {
        aw_op *w = eng->gq_head;
        q_remove(&eng->gq_head, &eng->gq_tail, w);
        eng->in_flight++;
        w->holds_global = true;
        aw_req_launch_or_queue(w);
    }
}

void aw_gate_release(aw_op *op)
{
    aw_peer_engine *eng = op->eng;
    aw_origin *o = op->origin;
    if (op->state == OPS_WAIT_ORIGIN && o) q_remove(&o->qhead, &o->qtail, op);
    if (op->state == OPS_WAIT_GLOBAL) q_remove(&eng->gq_head, &eng->gq_tail, op);
    if (op->holds_global) {
        op->holds_global = false;
        eng->in_flight--;
    }
    if (op->holds_origin && o) {
        op->holds_origin = false;
        o->in_flight--;
    }
    if (op->lane && o) o->lanes[op->lane - 1]--; /* its transfer has left curl */
    op->lane = 0;
    op->origin = NULL;
    eng->pump_depth++; /* a launch that fails at once releases its slots again (nested) */
    pump(eng, o);
    eng->pump_depth--;
    if (o) origin_maybe_free(eng, o);
}

/* ---------------- lifecycle ---------------- */

int aw_peer_engine_start(aw_app *app)
{
    aw_peer_engine *eng = calloc(1, sizeof *eng);
    if (!eng) return AW_ENOMEM;
    eng->app = app;
    eng->net = app->cfg.net;
    aw_config d;
    aw_config_init(&d);
    if (!eng->net.connect_ms) eng->net.connect_ms = d.net.connect_ms;
    if (!eng->net.attempt_ms) eng->net.attempt_ms = d.net.attempt_ms;
    if (!eng->net.deadline_ms) eng->net.deadline_ms = d.net.deadline_ms;
    if (!eng->net.verify_ms) eng->net.verify_ms = d.net.verify_ms;
    if (!eng->net.max_outbound) eng->net.max_outbound = d.net.max_outbound;
    if (!eng->net.per_origin) eng->net.per_origin = d.net.per_origin;
    if (!eng->net.max_response) eng->net.max_response = d.net.max_response;
    eng->armed_due = UINT64_MAX;
    eng->otab_n = 64;
    eng->otab = calloc(eng->otab_n, sizeof *eng->otab);
    /* Easy handles are recycled (curl_easy_init/cleanup cost ~5% of a fan-out's CPU). Each idle one
     * keeps ~15 KB, so aw_peer_engine_trim() gives back all but AW_PEER_POOL_KEEP after a quiet spell. */
    /* As many as may be in flight (up to 65,536): a fan-out's handles are all reused by the next one. The
     * pool never holds more than were in use at once, so it adds nothing to the peak. */
    eng->pool_cap = eng->net.max_outbound < 65536 ? eng->net.max_outbound : 65536;
    /* The variables libcurl honours (it ignores an upper-case HTTP_PROXY); read once, here. */
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof proxy_vars / sizeof *proxy_vars; i++) {
        const char *v = getenv(proxy_vars[i]);
        if (v && *v) eng->env_proxy = true;
    }
    eng->pool = calloc(eng->pool_cap, sizeof *eng->pool);
    eng->multi = curl_multi_init();
    /* Plain-http peers go through the built-in client unless the app says otherwise or a proxy variable
     * is set (libcurl honours proxies; the built-in client does not). */
    bool use_h1 = !eng->net.curl_for_http && !eng->env_proxy;
    if (use_h1) eng->h1 = aw_h1_new(eng, app);
    if (!eng->otab || !eng->pool || !eng->multi || (use_h1 && !eng->h1)) {
        aw_h1_free(eng->h1);
        if (eng->multi) curl_multi_cleanup(eng->multi);
        free(eng->otab);
        free(eng->pool);
        free(eng);
        return AW_ENOMEM;
    }
    if (aw_rand_hex(eng->rid_prefix, 8) != 0) snprintf(eng->rid_prefix, sizeof eng->rid_prefix, "%016llx",
                                                       (unsigned long long)uv_hrtime());
    curl_multi_setopt(eng->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(eng->multi, CURLMOPT_SOCKETDATA, eng);
    curl_multi_setopt(eng->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(eng->multi, CURLMOPT_TIMERDATA, eng);
    /* Connections kept per share (libcurl applies the multi's MAXCONNECTS to each share): a share holds
     * the lanes of a few origins, at most AW_PEER_LANE connections each, so this only bounds the odd
     * crowded share; idle connections older than 90 s are not reused (CURLOPT_MAXAGE_CONN). */
    long maxc = 2L * eng->net.per_origin;
    long part = ((long)eng->net.max_outbound + AW_PEER_NSHARES - 1) / AW_PEER_NSHARES;
    curl_multi_setopt(eng->multi, CURLMOPT_MAXCONNECTS, maxc > part ? maxc : part);
    eng->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (eng->epfd < 0 || uv_poll_init(app->loop, &eng->ep_poll, eng->epfd) != 0) {
        if (eng->epfd >= 0) close(eng->epfd);
        aw_h1_free(eng->h1);
        curl_multi_cleanup(eng->multi);
        free(eng->otab);
        free(eng->pool);
        free(eng);
        return AW_ENOMEM; /* out of fds or kernel memory */
    }
    eng->ep_poll.data = eng;
    uv_poll_start(&eng->ep_poll, UV_READABLE, on_epoll);
    uv_timer_init(app->loop, &eng->curl_timer);
    uv_timer_init(app->loop, &eng->op_timer);
    eng->curl_timer.data = eng;
    eng->op_timer.data = eng;
    app->peer = eng;
    return AW_OK;
}

size_t aw_peer_engine_active(const aw_app *app) { return app->peer ? app->peer->n_active : 0; }

void aw_peer_engine_trim(aw_app *app)
{
    aw_peer_engine *eng = app->peer;
    if (!eng) return;
    aw_h1_trim(eng->h1);
    if (eng->pool_n <= AW_PEER_POOL_KEEP) return;
    if (uv_now(app->loop) - eng->pool_used_at < AW_PEER_POOL_IDLE_MS) return;
    while (eng->pool_n > AW_PEER_POOL_KEEP) curl_easy_cleanup(eng->pool[--eng->pool_n]);
}

static void handle_closed(uv_handle_t *h)
{
    aw_peer_engine *eng = h->data;
    aw_app_handle_closed(eng->app);
}

void aw_peer_engine_shutdown(aw_app *app)
{
    aw_peer_engine *eng = app->peer;
    if (!eng || eng->shutting) return;
    eng->shutting = true;
    /* Complete every undelivered op, on the loop, with AW_ESHUTDOWN (an op whose completion was
     * already known keeps its own status). Callbacks cannot start new ops any more. */
    while (eng->ops_head) {
        aw_op *op = eng->ops_head;
        if (op->state != OPS_DONE) op_abort(op, AW_ESHUTDOWN, false); /* delivers */
        else op_deliver(op);
    }
    /* Remaining engine timers (gather deadlines / deferred gather completions) fire now. */
    eng->in_timer_cb = true;
    while (eng->heap_n) {
        aw_tnode *n = eng->heap[0];
        heap_remove(eng, n);
        n->fire(n);
    }
    eng->in_timer_cb = false;
    aw_h1_shutdown(eng->h1); /* its idle connections; it gives its closing count back by itself */
    /* Idle connections: curl closes them now (close_sock takes them out of the epoll set). */
    for (size_t i = 0; i < eng->pool_n; i++) curl_easy_cleanup(eng->pool[i]);
    eng->pool_n = 0;
    curl_multi_cleanup(eng->multi);
    eng->multi = NULL;
    /* idle connections live in the shares: closing them needs no socket callback (not polled) */
    for (int i = 0; i < AW_PEER_NSHARES; i++) {
        if (eng->shares[i]) curl_share_cleanup(eng->shares[i]);
        eng->shares[i] = NULL;
    }
    eng->closed = true;
    uv_poll_stop(&eng->ep_poll);
    uv_timer_stop(&eng->curl_timer);
    uv_timer_stop(&eng->op_timer);
    app->closing_handles += 3;
    uv_close((uv_handle_t *)&eng->ep_poll, handle_closed);
    uv_close((uv_handle_t *)&eng->curl_timer, handle_closed);
    uv_close((uv_handle_t *)&eng->op_timer, handle_closed);
}

void aw_peer_engine_free(aw_app *app)
{
    aw_peer_engine *eng = app->peer;
    if (!eng) return;
    for (size_t i = 0; i < eng->pool_n; i++) curl_easy_cleanup(eng->pool[i]);
    if (eng->multi) curl_multi_cleanup(eng->multi);
    for (int i = 0; i < AW_PEER_NSHARES; i++)
        if (eng->shares[i]) curl_share_cleanup(eng->shares[i]);
    for (size_t i = 0; i < eng->otab_n; i++) {
        aw_origin *o = eng->otab[i];
        while (o) {
            aw_origin *n = o->hnext;
            free(o->key);
            free(o->lanes);
            free(o);
            o = n;
        }
    }
    if (eng->epfd >= 0) close(eng->epfd);
    aw_h1_free(eng->h1);
    free(eng->cs);
    free(eng->otab);
    free(eng->pool);
    free(eng->heap);
    free(eng);
    app->peer = NULL;
}
