/* Internals of the built-in HTTP/1.1 client shared by its two files: http1.c (origins, connections,
 * connecting, the attempt's life) and http1_msg.c (the request's bytes and the reading of the answer).
 * Not a public header; loop thread only. */
#ifndef AW_PEER_HTTP1_INTERNAL_H
#define AW_PEER_HTTP1_INTERNAL_H

#include <http_parser.h>
#include <netinet/in.h>
#include <uv.h>

#include "peer/http1.h"

#define H1_DNS_TTL_MS 60000
#define H1_IDLE_MAX_MS 90000
#define H1_MAX_ADDRS 4
#define H1_HDR_VALUE_MAX 1024 /* Location / Retry-After values kept */
/* New connections begin at most this many per loop turn: a cold fan-out to thousands of peers would otherwise
 * hold the loop for all its connects at once (10,000 loopback connects take ~250 ms of CPU here), while the
 * loop's other work (inbound requests, the first connections' requests and answers) waits. */
#define H1_CONNECTS_PER_TURN 128

typedef struct h1_conn h1_conn;

typedef struct h1_pool {
    char *key; /* the origin key, "http://host:port" */
    size_t hash;
    struct h1_pool *hnext;
    char *host;    /* for the lookup / the address literal (no brackets) */
    char *hostln;  /* "Host: host[:port]\r\n" */
    size_t hostln_len;
    char port[8];
    struct sockaddr_storage addrs[H1_MAX_ADDRS];
    int n_addrs;
    uint64_t addrs_until; /* loop ms */
    h1_conn *idle;        /* idle connections, most recently used first */
    size_t n_conns;       /* connections of this origin, idle or busy */
} h1_pool;

typedef struct h1_sock {
    uv_tcp_t tcp;
    uv_connect_t creq;
    h1_conn *conn; /* NULL once the connection let go of it */
    aw_h1 *h1;
} h1_sock;

typedef struct h1_gai {
    uv_getaddrinfo_t req;
    aw_h1 *h1;
    h1_conn *conn; /* NULL once the connection let go of it */
} h1_gai;

typedef struct h1_write {
    uv_write_t req;
    h1_sock *sock;
    uint64_t seq; /* the connection's request it carries */
    char data[];
} h1_write;

enum { HV_NONE, HV_LOCATION, HV_RETRY_AFTER };

struct h1_conn {
    aw_h1 *h1;
    h1_pool *pool;
    h1_sock *sock;
    h1_gai *gai;
    aw_op *op;              /* the attempt on it; NULL when idle */
    h1_conn *inext, *iprev; /* the pool's idle list */
    h1_conn *lnext, *lprev; /* every idle connection, most recently used first */
    h1_conn *knext, *kprev; /* the queue of new connections waiting to begin */
    bool queued;
    h1_conn *anext, *aprev; /* every connection of the client */
    aw_tnode tn;            /* connect / answer deadline, or a deferred failure */
    uint64_t attempt_due;   /* loop ms: the attempt's answer deadline */
    uint64_t connect_due;   /* loop ms: the connect deadline (new connections) */
    uint64_t idle_at;
    uint64_t seq;           /* requests written on it */
    http_parser parser;
    int addr_i;             /* address being connected to */
    int deferred;           /* a libuv error to act on from the timer (it happened inside a start call) */
    int last_err;           /* the last connect error, for the message */
    bool connected, reused, sent, got_bytes, done, keep, cap_hit, in_value, name_long;
    uint8_t name_len;
    char name[16];          /* the response header being read (its first 15 bytes) */
    int hv_kind;
    aw_buf hval;
};

struct aw_h1 {
    aw_peer_engine *eng;
    aw_app *app;
    h1_pool **tab;
    size_t tab_n, n_pools;
    h1_conn *conns; /* every connection */
    h1_conn *lru_head, *lru_tail; /* idle connections of every origin, most recently used first */
    size_t n_idle, max_idle;      /* idle connections kept at most: net.max_outbound */
    h1_conn *kq_head, *kq_tail;   /* new connections waiting to begin, in start order */
    uv_idle_t kick;               /* while new connections wait: begins the next H1_CONNECTS_PER_TURN of them
                                   * each loop turn (an active idle handle also keeps the poll from blocking) */
    bool kick_init, kick_on;
    size_t n_pending; /* sockets not yet closed + lookups not yet called back */
    bool shutting;
    char rbuf[65536]; /* every read lands here and is parsed at once (one loop thread) */
};

/* Run the answer parser over n bytes read on c (n = 0: the peer closed the connection). Its callbacks fill
 * op->resp, the Location and Retry-After of the op, and c->done / c->keep / c->cap_hit. Returns the bytes
 * parsed; HTTP_PARSER_ERRNO(&c->parser) tells a malformed answer. */
size_t aw_h1_parse(h1_conn *c, const char *data, size_t n);

/* The bytes of c->op's request (made on the op's first attempt: its request target), in a write request
 * whose data holds them; *len their count. NULL on OOM. Also readies the parser for the answer. */
h1_write *aw_h1_request(h1_conn *c, size_t *len);

#endif
