/* fanout: N concurrent peer requests through the PUBLIC async API (aw_peer_meta_get_async), against a
 * loopback peer (a forked libuv process) that answers every request after 100 ms.
 *
 *   fanout N [--runs R] [--addrs K] [--delay MS] [--peer-spin-us US] [--no-pin] [--floor]
 *
 * Each run sends one GET {peer}/meta to N distinct actor URLs http://127.0.0.<k>:PORT/<id> (spread
 * over K loopback addresses so each listener's accept queue stays short), all at once, and prints
 *   fanout N=<N> wall_ms=<ms> cpu_ms=<ms> rss_kb=<kb> form=async run=<r> ...
 * Run 1 opens new connections; later runs reuse the app's kept-alive connections. With 2 or
 * more runs a last line gives the min / median / max wall time of the reused runs.
 * For N <= 100 it also runs the sync form (N sequential aw_peer_meta_get calls from another thread).
 * cpu_ms is the client process only (the peer is a separate process).
 * --floor first measures this machine's floor for the same work, against the same peer in the same minute:
 * no library, N connections opened beforehand with libuv, each run writes the request bytes our engine sends
 * (request line, Host, X-Request-ID, Accept) on every connection and counts each answer's bytes in (the
 * peer's answer has a fixed length, so nothing is parsed):
 *   fanout-floor N=<N> wall_ms=<ms> cpu_ms=<ms> run=<r>
 * after a line with what opening those N connections cost (a cold run, run 1, pays that too).
 * What the library adds per request is (cpu_ms - floor cpu_ms) / N: its HTTP client, our start and completion. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <actingweb/actingweb.h>
#ifdef AW_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

/* ------------------------------------------------------------------ the slow peer (child) */

typedef struct sconn {
    uv_tcp_t h;
    char buf[8192];
    size_t len;
    int pending;
    bool closing;
} sconn;

typedef struct sresp {
    sconn *c;
    uint64_t due;
    struct sresp *next;
} sresp;

static uv_loop_t *S_loop;
static uv_timer_t S_timer;
static sresp *S_head, *S_tail;
static unsigned S_delay = 100;
static unsigned long S_events; /* callbacks run */
/* How long the peer keeps polling after its last event before it blocks in epoll_wait (--peer-spin-us,
 * default 50 µs; 0 = always block). A sleeping peer is woken by every request the client sends, and on
 * loopback the client pays for that: its sendto runs the peer's TCP receive and the wake-up of the other
 * CPU (an inter-processor interrupt, a VM exit in a VM), ~7 % of the client's time in a perf profile at
 * N=10,000. A remote peer costs the client neither, so the peer does not sleep between requests that
 * come in a stream. The 100 ms wait is a timer: the peer blocks during it. */
static uint64_t S_spin_ns = 50000;
static const char S_resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 59\r\n\r\n"
                             "{\"id\":\"bench-peer\",\"type\":\"urn:actingweb:bench:peer\",\"a\":1}";

static void s_closed(uv_handle_t *h)
{
    sconn *c = h->data;
    if (c->pending == 0) free(c);
    else c->closing = true; /* freed when its last queued response is dropped */
}

static void s_close(sconn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->h)) uv_close((uv_handle_t *)&c->h, s_closed);
}

static void s_write_done(uv_write_t *w, int status)
{
    free(w);
}

static void s_timer_cb(uv_timer_t *t);

static void s_arm(void)
{
    if (!S_head) return;
    uint64_t now = uv_now(S_loop);
    uv_timer_start(&S_timer, s_timer_cb, S_head->due > now ? S_head->due - now : 0, 0);
}

static void s_timer_cb(uv_timer_t *t)
{
    S_events++;
    uv_update_time(S_loop);
    uint64_t now = uv_now(S_loop);
    while (S_head && S_head->due <= now) {
        sresp *r = S_head;
        S_head = r->next;
        if (!S_head) S_tail = NULL;
        sconn *c = r->c;
        c->pending--;
        if (c->closing) {
            if (c->pending == 0) free(c);
        } else if (!uv_is_closing((uv_handle_t *)&c->h)) {
            uv_buf_t b = uv_buf_init((char *)S_resp, sizeof S_resp - 1);
            int n = uv_try_write((uv_stream_t *)&c->h, &b, 1);
            if (n < 0 && n != UV_EAGAIN) s_close(c);
            else if (n < (int)b.len) {
                if (n > 0) b = uv_buf_init((char *)S_resp + n, (unsigned)(sizeof S_resp - 1 - (size_t)n));
                uv_write_t *w = malloc(sizeof *w);
                uv_write(w, (uv_stream_t *)&c->h, &b, 1, s_write_done);
            }
        }
        free(r);
    }
    s_arm();
}

static void s_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
    sconn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void s_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    sconn *c = st->data;
    S_events++;
    if (n < 0) {
        s_close(c);
        return;
    }
    c->len += (size_t)n;
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) break;
        size_t used = (size_t)(end + 4 - c->buf);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        sresp *r = malloc(sizeof *r);
        r->c = c;
        r->due = uv_now(S_loop) + S_delay;
        r->next = NULL;
        c->pending++;
        bool was_empty = !S_head;
        if (S_tail) S_tail->next = r;
        else S_head = r;
        S_tail = r;
        if (was_empty) s_arm();
    }
    if (c->len == sizeof c->buf) s_close(c);
}

static void s_conn(uv_stream_t *srv, int status)
{
    S_events++;
    if (status < 0) return;
    sconn *c = calloc(1, sizeof *c);
    uv_tcp_init(S_loop, &c->h);
    c->h.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->h) != 0) {
        s_close(c);
        return;
    }
    uv_tcp_nodelay(&c->h, 1);
    uv_read_start((uv_stream_t *)&c->h, s_alloc, s_read);
}

/* Child: listen on 127.0.0.1..K at one port; write the port to `fd`, then serve until killed. */
static void run_peer(int fd, int addrs)
{
    S_loop = uv_default_loop();
    uv_timer_init(S_loop, &S_timer);
    int port = 0;
    for (int k = 1; k <= addrs; k++) {
        uv_tcp_t *l = malloc(sizeof *l);
        uv_tcp_init(S_loop, l);
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", k);
        struct sockaddr_in sa;
        uv_ip4_addr(ip, port, &sa);
        if (uv_tcp_bind(l, (struct sockaddr *)&sa, 0) != 0 || uv_listen((uv_stream_t *)l, 65535, s_conn) != 0) {
            fprintf(stderr, "peer: cannot listen on %s:%d\n", ip, port);
            _exit(1);
        }
        if (!port) {
            struct sockaddr_in got;
            int len = sizeof got;
            uv_tcp_getsockname(l, (struct sockaddr *)&got, &len);
            port = ntohs(got.sin_port);
        }
    }
    if (write(fd, &port, sizeof port) != sizeof port) _exit(1);
    close(fd);
    /* Spin (polling without blocking) until S_spin_ns pass without an event, then block. See S_spin_ns. */
    for (;;) {
        uint64_t last = uv_hrtime();
        while (uv_hrtime() - last < S_spin_ns) {
            unsigned long e = S_events;
            uv_run(S_loop, UV_RUN_NOWAIT);
            if (S_events != e) last = uv_hrtime();
        }
        uv_run(S_loop, UV_RUN_ONCE);
    }
    _exit(0);
}

/* ------------------------------------------------------------------ the client */

typedef struct run_state {
    uint64_t t0, first_ns, last_ns; /* completion times (loop thread) */
    atomic_int done;
    atomic_int errors;
    int first_err;
    char first_msg[256];
} run_state;

static void on_meta(const aw_result *res, void *ud)
{
    run_state *rs = ud;
    uint64_t t = uv_hrtime() - rs->t0;
    if (!rs->first_ns) rs->first_ns = t;
    rs->last_ns = t;
    if (aw_result_status(res) != AW_OK) {
        if (atomic_fetch_add(&rs->errors, 1) == 0) {
            rs->first_err = aw_result_status(res);
            snprintf(rs->first_msg, sizeof rs->first_msg, "%s", aw_result_message(res));
        }
    }
    atomic_fetch_add(&rs->done, 1);
}

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static long rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static long rss_now_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static char **make_urls(int n, int port, int addrs)
{
    char **u = calloc((size_t)n, sizeof *u);
    for (int i = 0; i < n; i++) {
        char buf[128];
        /* distinct actor ids: 32 hex characters */
        snprintf(buf, sizeof buf, "http://127.0.0.%d:%d/%08x%08x%08x%08x", 1 + i % addrs, port, (unsigned)i,
                 (unsigned)(i * 2654435761u), 0xabcdef01u, (unsigned)getpid());
        u[i] = strdup(buf);
    }
    return u;
}

typedef struct sync_job {
    aw_app *app;
    char **urls;
    int n;
    int errors;
    atomic_bool done;
} sync_job;

static void sync_thread(void *p)
{
    sync_job *j = p;
    for (int i = 0; i < j->n; i++) {
        aw_result *res = NULL;
        if (aw_peer_meta_get(j->app, j->urls[i], NULL, &res) != AW_OK) j->errors++;
        aw_result_unref(res);
    }
    atomic_store(&j->done, true);
}

static void tick(uv_timer_t *t) {}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ the floor (--floor) */

typedef struct fconn {
    uv_tcp_t h;
    char rbuf[1024];
    char req[256];
    size_t req_len;
    size_t got; /* bytes of this run's answer read so far */
} fconn;

typedef struct floor_state {
    int connected, done, failed;
} floor_state;

static void f_alloc(uv_handle_t *h, size_t sug, uv_buf_t *b)
{
    fconn *c = h->data;
    *b = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void f_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    fconn *c = st->data;
    floor_state *fs = st->loop->data;
    if (n < 0) {
        fs->failed++;
        uv_read_stop(st);
        return;
    }
    c->got += (size_t)n;
    if (c->got >= sizeof S_resp - 1) {
        c->got -= sizeof S_resp - 1;
        fs->done++;
    }
}

static void f_connected(uv_connect_t *r, int status)
{
    floor_state *fs = r->handle->loop->data;
    if (status == 0) fs->connected++;
    else fs->failed++;
    free(r);
}

static void f_closed(uv_handle_t *h)
{
    floor_state *fs = h->loop->data;
    fs->connected--;
}

static void run_floor(uv_loop_t *loop, int n, int port, int addrs, int runs)
{
    floor_state fs = {0};
    void *saved = loop->data;
    loop->data = &fs;
    fconn *cs = calloc((size_t)n, sizeof *cs);
    double cc0 = cpu_ms();
    uint64_t ct0 = uv_hrtime();
    for (int i = 0; i < n; i++) {
        fconn *c = &cs[i];
        uv_tcp_init(loop, &c->h);
        c->h.data = c;
        char ip[32];
        snprintf(ip, sizeof ip, "127.0.0.%d", 1 + i % addrs);
        struct sockaddr_in sa;
        uv_ip4_addr(ip, port, &sa);
        uv_connect_t *r = malloc(sizeof *r);
        if (uv_tcp_connect(r, &c->h, (const struct sockaddr *)&sa, f_connected) != 0) {
            free(r);
            fs.failed++;
        }
        /* at most 256 connects in flight (this phase is not measured): the peer's accept queues stay short */
        while (fs.connected + fs.failed < i + 1 - 256) uv_run(loop, UV_RUN_ONCE);
        /* the bytes the engine sends for aw_peer_meta_get_async (the id differs from the async runs' ids) */
        int len = snprintf(c->req, sizeof c->req,
                           "GET /%08x%08x%08x%08x/meta HTTP/1.1\r\nHost: %s:%d\r\nX-Request-ID: %016llx%016llx\r\n"
                           "Accept: application/json\r\n\r\n",
                           (unsigned)i, (unsigned)(i * 2654435761u), 0xfeedf00du, (unsigned)getpid(), ip, port,
                           0x0123456789abcdefull, (unsigned long long)i);
        c->req_len = (size_t)len;
    }
    while (fs.connected + fs.failed < n) uv_run(loop, UV_RUN_ONCE);
    for (int i = 0; i < n && !fs.failed; i++) {
        uv_tcp_nodelay(&cs[i].h, 1); /* as both of our clients do */
        uv_read_start((uv_stream_t *)&cs[i].h, f_alloc, f_read);
    }
    /* what a cold run pays on top: on loopback both ends' TCP handshake work runs on the connecting CPU */
    printf("#   floor: %d connections opened in %.1f ms wall, %.1f ms CPU (not part of the floor runs)\n", n,
           (uv_hrtime() - ct0) / 1e6, cpu_ms() - cc0);
    double *walls = calloc((size_t)runs, sizeof *walls);
    for (int r = 1; r <= runs && !fs.failed; r++) {
        fs.done = 0;
        double c0 = cpu_ms();
        uint64_t t0 = uv_hrtime();
        for (int i = 0; i < n; i++) {
            uv_buf_t b = uv_buf_init(cs[i].req, (unsigned)cs[i].req_len);
            if (uv_try_write((uv_stream_t *)&cs[i].h, &b, 1) != (int)cs[i].req_len) fs.failed++;
        }
        while (fs.done < n && !fs.failed) uv_run(loop, UV_RUN_ONCE);
        walls[r - 1] = (uv_hrtime() - t0) / 1e6;
        printf("fanout-floor N=%d wall_ms=%.1f cpu_ms=%.1f run=%d\n", n, walls[r - 1], cpu_ms() - c0, r);
        fflush(stdout);
    }
    if (fs.failed) printf("#   floor: %d connections failed\n", fs.failed);
    else if (runs >= 1) {
        qsort(walls, (size_t)runs, sizeof *walls, cmp_double);
        printf("# N=%d floor runs (%d): min %.1f, median %.1f, max %.1f wall ms\n", n, runs, walls[0],
               walls[runs / 2], walls[runs - 1]);
    }
    free(walls);
    fs.connected = n; /* now: handles not yet closed */
    for (int i = 0; i < n; i++) uv_close((uv_handle_t *)&cs[i].h, f_closed);
    while (fs.connected > 0) uv_run(loop, UV_RUN_ONCE);
    free(cs);
    loop->data = saved;
}

/* By default (with 2 or more CPUs) the client runs on CPU 0 and the peer on CPU 1: the peer stands for a
 * remote server, and the scheduler must not put both on one core. --no-pin leaves placement to it. */
static void pin_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) perror("sched_setaffinity");
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int runs = 3, addrs = 0, delay = 100, pin = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
    bool spin_set = false, floor_runs = false;
    for (int i = 2; i < argc; i++) {
        bool has_val = i + 1 < argc;
        if (!strcmp(argv[i], "--pin")) pin = 1; /* the default; kept for old command lines */
        else if (!strcmp(argv[i], "--no-pin")) pin = 0;
        else if (!strcmp(argv[i], "--floor")) floor_runs = true;
        else if (has_val && !strcmp(argv[i], "--runs")) runs = atoi(argv[++i]);
        else if (has_val && !strcmp(argv[i], "--addrs")) addrs = atoi(argv[++i]);
        else if (has_val && !strcmp(argv[i], "--delay")) delay = atoi(argv[++i]);
        else if (has_val && !strcmp(argv[i], "--peer-spin-us")) {
            S_spin_ns = strtoull(argv[++i], NULL, 10) * 1000;
            spin_set = true;
        }
        else n = 0; /* unknown argument: usage */
    }
    if (n <= 0) {
        fprintf(stderr, "usage: fanout N [--runs R] [--addrs K] [--delay MS] [--peer-spin-us US] [--no-pin] [--floor]\n");
        return 2;
    }
    if (!addrs) addrs = n >= 2000 ? 16 : (n >= 200 ? 4 : 1);
    if (!spin_set && sysconf(_SC_NPROCESSORS_ONLN) < 2) S_spin_ns = 0; /* one CPU: spinning starves the client */
    S_delay = (unsigned)delay;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)n * 1 + 64 > rl.rlim_cur) fprintf(stderr, "warning: RLIMIT_NOFILE %lu may be too low for N=%d\n",
                                                  (unsigned long)rl.rlim_cur, n);

    int pfd[2];
    if (pipe(pfd) != 0) return 1;
    pid_t child = fork();
    if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the client */
        close(pfd[0]);
        if (pin) pin_cpu(1);
        run_peer(pfd[1], addrs);
    }
    if (pin) pin_cpu(0);
    close(pfd[1]);
    int port = 0;
    if (read(pfd[0], &port, sizeof port) != sizeof port || !port) {
        fprintf(stderr, "peer did not start\n");
        return 1;
    }
    close(pfd[0]);

    char db[] = "/tmp/aw_fanout_XXXXXX";
    int dfd = mkstemp(db);
    if (dfd >= 0) close(dfd);
    char storage[64];
    snprintf(storage, sizeof storage, "sqlite:%s", db);
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.base_url = "http://127.0.0.1:1";
    cfg.storage = storage;
    cfg.listen_port = 0;
    cfg.log_level = AW_LOG_WARN;
    uint32_t per_origin = (uint32_t)((n + addrs - 1) / addrs);
    cfg.net.max_outbound = (uint32_t)n > 1024 ? (uint32_t)n : 1024;
    cfg.net.per_origin = per_origin > 64 ? per_origin : 64;
    cfg.net.deadline_ms = 30000;
    aw_app *app;
    if (aw_app_new(&cfg, &app) != AW_OK) return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (aw_app_attach(app, &loop) != AW_OK) return 1;
    printf("# peer: 127.0.0.1..127.0.0.%d port %d, answers after %d ms, spins %llu us before it blocks; client "
           "limits: max_outbound=%u per_origin=%u (defaults 1024/64), deadline 30 s; %s; allocator %s %d\n",
           addrs, port, delay, (unsigned long long)(S_spin_ns / 1000), cfg.net.max_outbound, cfg.net.per_origin,
           pin ? "client on CPU 0, peer on CPU 1" : "placement left to the scheduler",
#ifdef AW_HAVE_MIMALLOC /* linked as the process allocator (CMakeLists.txt) */
           "mimalloc", mi_version()
#else
           "glibc malloc", 0
#endif
    );
    fflush(stdout);

    /* First, while the app holds no connection: the peer's descriptors (RLIMIT_NOFILE) suffice for N at a time. */
    if (floor_runs) run_floor(&loop, n, port, addrs, runs > 1 ? runs - 1 : 1);
    char **urls = make_urls(n, port, addrs);
    double *walls = calloc((size_t)(runs > 0 ? runs : 1), sizeof *walls);
    for (int r = 1; r <= runs; r++) {
        run_state rs = {0};
        double c0 = cpu_ms();
        uint64_t t0 = uv_hrtime();
        rs.t0 = t0;
        for (int i = 0; i < n; i++) {
            int st = aw_peer_meta_get_async(app, urls[i], NULL, on_meta, &rs, NULL);
            if (st != AW_OK) {
                fprintf(stderr, "start failed: %s\n", aw_err_name(st));
                return 1;
            }
        }
        double start_ms = (uv_hrtime() - t0) / 1e6;
        while (atomic_load(&rs.done) < n) uv_run(&loop, UV_RUN_ONCE);
        double wall = (uv_hrtime() - t0) / 1e6;
        double cpu = cpu_ms() - c0;
        walls[r - 1] = wall;
        printf("fanout N=%d wall_ms=%.1f cpu_ms=%.1f rss_kb=%ld form=async run=%d conns=%s errors=%d rss_now_kb=%ld "
               "started_ms=%.1f first_ms=%.1f\n",
               n, wall, cpu, rss_kb(), r, r == 1 ? "new" : "reused", atomic_load(&rs.errors), rss_now_kb(),
               start_ms, rs.first_ns / 1e6);
        if (rs.errors) printf("#   first error: %s: %s\n", aw_err_name(rs.first_err), rs.first_msg);
        fflush(stdout);
    }
    if (runs >= 2) { /* the reused runs: this VM's speed drifts, so one run says little */
        qsort(walls + 1, (size_t)(runs - 1), sizeof *walls, cmp_double);
        printf("# N=%d reused runs (%d): min %.1f, median %.1f, max %.1f wall ms\n", n, runs - 1, walls[1],
               walls[1 + (runs - 1) / 2], walls[runs - 1]);
    }
    free(walls);
    if (n <= 100) {
        sync_job j = {.app = app, .urls = urls, .n = n};
        uv_timer_t t;
        uv_timer_init(&loop, &t);
        uv_timer_start(&t, tick, 1, 1);
        double c0 = cpu_ms();
        uint64_t t0 = uv_hrtime();
        uv_thread_t th;
        uv_thread_create(&th, sync_thread, &j);
        while (!atomic_load(&j.done)) uv_run(&loop, UV_RUN_ONCE);
        uv_thread_join(&th);
        double wall = (uv_hrtime() - t0) / 1e6;
        double cpu = cpu_ms() - c0;
        printf("fanout N=%d wall_ms=%.1f cpu_ms=%.1f rss_kb=%ld form=sync run=1 conns=reused errors=%d\n", n, wall,
               cpu, rss_kb(), j.errors);
        uv_close((uv_handle_t *)&t, NULL);
    }
    aw_app_close(app, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    aw_app_free(app);
    uv_loop_close(&loop);
    for (int i = 0; i < n; i++) free(urls[i]);
    free(urls);
    unlink(db);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    return 0;
}
