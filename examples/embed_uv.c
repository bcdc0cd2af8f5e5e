/* embed_uv — embedding libactingweb in a program that already has its own libuv loop.
 *
 * The program owns everything on the loop: a uv_loop_t, a repeating timer, a TCP echo server and a UDP
 * echo socket, and signal handlers. It attaches an aw_app to that loop (aw_app_attach), which then serves
 * actors over HTTP on --port, on the same thread, next to the echo handlers. From the timer callback it
 * reads a peer's /meta with an _async operation (aw_peer_meta_get_async): the callback comes back on the
 * loop later, and the echo handlers keep answering while the request is out. On SIGINT/SIGTERM (or after
 * --exit-after) it shuts down in order: its own handles, then aw_app_close(); once the app's close
 * callback ran, nothing of the library is left on the loop, uv_run() returns and uv_loop_close() succeeds.
 *
 *   embed_uv --port 8801 --echo-port 8802 --storage sqlite:/tmp/embed.db [--peer http://host/actor]
 *            [--interval MS] [--exit-after MS]
 *
 * Output (line-buffered, so a supervisor can follow it):
 *   actingweb serving http://127.0.0.1:8801
 *   echo listening on 127.0.0.1:8802 (tcp+udp)
 *   tick 1
 *   peer meta: id=<id> type=<urn> http=200 attempts=1 in 3.1 ms
 *   shutting down (signal 15)
 *   actingweb closed
 *   loop closed cleanly */
#include <actingweb/actingweb.h>

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct echo_client {
    uv_tcp_t tcp;
    struct echo_client *prev, *next;
} echo_client;

typedef struct prog {
    uv_loop_t loop;
    uv_timer_t tick;
    uv_timer_t exit_timer;
    uv_tcp_t echo_tcp;
    uv_udp_t echo_udp;
    uv_signal_t sigint, sigterm;
    echo_client *clients;
    aw_app *app;
    const char *peer;
    aw_op *peer_op;         /* the peer call in flight (our reference), or NULL */
    uint64_t peer_start;
    unsigned ticks;
    int shutting_down;
    int exit_code;
} prog;

/* ---- the program's own TCP echo server ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void client_closed(uv_handle_t *h)
{
    echo_client *c = h->data;
    free(c);
}

static void client_close(prog *p, echo_client *c)
{
    if (c->prev) c->prev->next = c->next;
    else p->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->tcp, client_closed);
}

typedef struct write_req {
    uv_write_t w;
    uv_buf_t buf;
} write_req;

static void write_done(uv_write_t *w, int status)
{
    (void)status;
    write_req *wr = (write_req *)w;
    free(wr->buf.base);
    free(wr);
}

static void echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    echo_client *c = s->data;
    prog *p = s->loop->data;
    if (n > 0) {
        write_req *wr = malloc(sizeof *wr);
        if (wr) {
            wr->buf = uv_buf_init(buf->base, (unsigned)n);
            if (uv_write(&wr->w, s, &wr->buf, 1, write_done) == 0) return; /* buffer freed in write_done */
            free(wr);
        }
    }
    free(buf->base);
    if (n < 0) client_close(p, c); /* EOF or error */
}

static void echo_accept(uv_stream_t *server, int status)
{
    prog *p = server->loop->data;
    if (status < 0 || p->shutting_down) return;
    echo_client *c = calloc(1, sizeof *c);
    if (!c) return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, client_closed);
        return;
    }
    c->next = p->clients;
    if (c->next) c->next->prev = c;
    p->clients = c;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, echo_read);
}

/* ---- and its UDP echo socket ---- */

typedef struct udp_send {
    uv_udp_send_t s;
    uv_buf_t buf;
} udp_send;

static void udp_sent(uv_udp_send_t *s, int status)
{
    (void)status;
    udp_send *us = (udp_send *)s;
    free(us->buf.base);
    free(us);
}

static void udp_read(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags)
{
    (void)flags;
    if (n > 0 && addr) {
        udp_send *us = malloc(sizeof *us);
        if (us) {
            us->buf = uv_buf_init(buf->base, (unsigned)n);
            if (uv_udp_send(&us->s, h, &us->buf, 1, addr, udp_sent) == 0) return;
            free(us);
        }
    }
    free(buf->base);
}

/* ---- a peer call from a timer callback ---- */

static void on_peer_meta(const aw_result *res, void *ud)
{
    prog *p = ud;
    double ms = (double)(uv_hrtime() - p->peer_start) / 1e6;
    int st = aw_result_status(res);
    if (st == AW_OK) {
        json_t *meta = aw_result_payload(res); /* borrowed: valid until we return */
        printf("peer meta: id=%s type=%s http=%d attempts=%u in %.1f ms\n",
               json_string_value(json_object_get(meta, "id")), json_string_value(json_object_get(meta, "type")),
               aw_result_http_status(res), aw_result_attempts(res), ms);
    } else {
        /* AW_ESHUTDOWN when we closed the app while it was out, AW_ECANCELED after aw_op_cancel(), ... */
        printf("peer meta: failed %s (%s) http=%d in %.1f ms\n", aw_err_name(st), aw_result_message(res),
               aw_result_http_status(res), ms);
    }
    aw_op_unref(p->peer_op);
    p->peer_op = NULL;
}

static void on_tick(uv_timer_t *t)
{
    prog *p = t->data;
    printf("tick %u\n", ++p->ticks);
    if (!p->peer || p->peer_op) return; /* nothing to ask, or the last call is still out */
    aw_call_opts opts = AW_CALL_OPTS_INIT;
    opts.deadline_ms = 5000;
    p->peer_start = uv_hrtime();
    /* We are on the loop thread (inside a uv callback): start async, never block. */
    int r = aw_peer_meta_get_async(p->app, p->peer, &opts, on_peer_meta, p, &p->peer_op);
    if (r != AW_OK) {
        printf("peer meta: cannot start: %s\n", aw_strerror(r));
        p->peer_op = NULL;
    }
}

/* ---- shutdown ---- */

static void on_app_closed(aw_app *app, void *ud)
{
    (void)app;
    (void)ud;
    printf("actingweb closed\n"); /* every handle the app put on our loop is gone */
}

static void shutdown_prog(prog *p, const char *why)
{
    if (p->shutting_down) return;
    p->shutting_down = 1;
    printf("shutting down (%s)\n", why);
    /* Our own handles first... */
    uv_close((uv_handle_t *)&p->tick, NULL);
    uv_close((uv_handle_t *)&p->exit_timer, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    uv_close((uv_handle_t *)&p->echo_tcp, NULL);
    uv_close((uv_handle_t *)&p->echo_udp, NULL);
    while (p->clients) client_close(p, p->clients);
    /* ...then the app: it stops accepting, finishes requests in flight, completes outstanding operations
     * (a peer call still out calls back with AW_ESHUTDOWN) and calls on_app_closed on this loop. */
    aw_app_close(p->app, on_app_closed, p);
}

static void on_signal(uv_signal_t *s, int signum)
{
    char why[32];
    snprintf(why, sizeof why, "signal %d", signum);
    shutdown_prog(s->data, why);
}

static void on_exit_timer(uv_timer_t *t) { shutdown_prog(t->data, "exit-after"); }

static void usage(FILE *f)
{
    fprintf(f,
            "usage: embed_uv --port PORT --echo-port PORT --storage sqlite:PATH [options]\n\n"
            "A libuv program with its own timer and TCP/UDP echo handlers that also serves ActingWeb actors.\n\n"
            "  --port PORT        HTTP port for the actors (base URL http://127.0.0.1:PORT)\n"
            "  --echo-port PORT   TCP and UDP echo port on 127.0.0.1 (0 = any free port)\n"
            "  --storage SPEC     storage for the actors, e.g. sqlite:/tmp/embed.db\n"
            "  --peer URL         actor root URL whose /meta the timer reads (optional)\n"
            "  --interval MS      timer period [1000]\n"
            "  --exit-after MS    shut down after this long (0 = at SIGINT/SIGTERM) [0]\n"
            "  --help             this text\n");
}

int main(int argc, char **argv)
{
    long port = -1, echo_port = 0, interval = 1000, exit_after = 0;
    const char *storage = NULL;
    prog p = {0};
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},      {"echo-port", required_argument, NULL, 'e'},
        {"storage", required_argument, NULL, 's'},   {"peer", required_argument, NULL, 'P'},
        {"interval", required_argument, NULL, 'i'},  {"exit-after", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'e': echo_port = strtol(optarg, NULL, 10); break;
        case 's': storage = optarg; break;
        case 'P': p.peer = optarg; break;
        case 'i': interval = strtol(optarg, NULL, 10); break;
        case 'x': exit_after = strtol(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (port <= 0 || port > 65535 || echo_port < 0 || echo_port > 65535 || !storage || interval <= 0 ||
        exit_after < 0) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* 1. The program's own loop and handles. */
    uv_loop_init(&p.loop);
    p.loop.data = &p;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", (int)echo_port, &addr);
    uv_tcp_init(&p.loop, &p.echo_tcp);
    int r = uv_tcp_bind(&p.echo_tcp, (const struct sockaddr *)&addr, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&p.echo_tcp, 128, echo_accept);
    if (r == 0) {
        struct sockaddr_in bound;
        int len = sizeof bound;
        uv_tcp_getsockname(&p.echo_tcp, (struct sockaddr *)&bound, &len);
        echo_port = ntohs(bound.sin_port);
        uv_ip4_addr("127.0.0.1", (int)echo_port, &addr);
        uv_udp_init(&p.loop, &p.echo_udp);
        r = uv_udp_bind(&p.echo_udp, (const struct sockaddr *)&addr, 0);
        if (r == 0) r = uv_udp_recv_start(&p.echo_udp, alloc_cb, udp_read);
    }
    if (r != 0) {
        fprintf(stderr, "embed_uv: echo port %ld: %s\n", echo_port, uv_strerror(r));
        return 1;
    }
    uv_timer_init(&p.loop, &p.tick);
    p.tick.data = &p;
    uv_timer_init(&p.loop, &p.exit_timer);
    p.exit_timer.data = &p;
    uv_signal_init(&p.loop, &p.sigint);
    uv_signal_init(&p.loop, &p.sigterm);
    p.sigint.data = p.sigterm.data = &p;

    /* 2. The app, attached to that loop: its HTTP server, peer engine and timers join our handles. */
    char base_url[64];
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%ld", port);
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.type_urn = "urn:actingweb:example.org:embed_uv";
    cfg.desc = "actingweb-c embedding example";
    cfg.base_url = base_url;
    cfg.storage = storage;
    cfg.listen_host = "127.0.0.1";
    cfg.listen_port = (uint16_t)port;
    cfg.log_level = AW_LOG_WARN;
    r = aw_app_new(&cfg, &p.app);
    if (r != AW_OK) {
        fprintf(stderr, "embed_uv: aw_app_new: %s\n", aw_strerror(r));
        return 1;
    }
    r = aw_app_attach(p.app, &p.loop);
    if (r != AW_OK) {
        /* The app already started closing what it opened; run the loop once it has, then clean up. */
        fprintf(stderr, "embed_uv: aw_app_attach: %s\n", aw_strerror(r));
        p.exit_code = 1;
        shutdown_prog(&p, "attach failed");
    } else {
        printf("actingweb serving %s\n", base_url);
        printf("echo listening on 127.0.0.1:%ld (tcp+udp)\n", echo_port);
        uv_timer_start(&p.tick, on_tick, (uint64_t)interval, (uint64_t)interval);
        if (exit_after) uv_timer_start(&p.exit_timer, on_exit_timer, (uint64_t)exit_after, 0);
        uv_signal_start(&p.sigint, on_signal, SIGINT);
        uv_signal_start(&p.sigterm, on_signal, SIGTERM);
    }

    /* 3. The program runs its loop as it always did. */
    uv_run(&p.loop, UV_RUN_DEFAULT);

    /* 4. Nothing is left on the loop: close it, then free the app. */
    r = uv_loop_close(&p.loop);
    if (r != 0) {
        fprintf(stderr, "embed_uv: uv_loop_close: %s\n", uv_strerror(r));
        p.exit_code = 1;
    } else {
        printf("loop closed cleanly\n");
    }
    aw_app_free(p.app);
    return p.exit_code;
}
