/* machine: how fast this machine is right now, in the units the benchmarks spend.
 *
 *   machine
 *
 * Prints one line
 *   machine syscall_ns=<ns> alu_ns=<ns> mem_ns=<ns> loopback_us=<us> cpus_alu_ns=<ns>,... cpus_json_us=<us>,...
 * syscall_ns: one null system call (getppid), the entry and exit every send, recv, poll and pwrite pays;
 * alu_ns: one step of a dependent multiply-add chain (pure user-space CPU speed);
 * mem_ns: one load of a pointer chase through 32 MiB in random order (cache and memory latency, which
 * other tenants of the host share);
 * loopback_us: one 200-byte TCP segment over loopback, sent and received by this thread (the kernel's whole
 * send and receive path, without a wake-up);
 * cpus_alu_ns, cpus_json_us: alu_ns and one JSON parse and serialisation of a callback body (branchy code and
 * small allocations, like the daemons'), measured on every CPU at once (one pinned thread each, means over
 * ~0.2 s): a CPU that the host takes away for part of that time, or shares with a busy neighbour (another
 * guest on the same physical core), shows larger figures. The VM reports no steal time.
 * The first four figures are the median of 9 short samples, taken on one CPU.
 *
 * The benchmarks print this line next to their figures: in a virtual machine the same binary can need much
 * more CPU in some minutes than in others. On the development VM (2 vCPUs, Debian 12) at its usual speed:
 * syscall_ns ~166, alu_ns ~1.09, mem_ns ~130, loopback_us ~6.6, cpus_alu_ns 1.09,1.09, cpus_json_us 6.4,6.4.
 * In its slow phases cpus_json_us reads 9-16 on at least one CPU while alu_ns stays put, and the daemons need
 * 1.6-1.7 times the CPU for the same work (docs/benchmarks.md, "Eleventh session"). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_* */
#endif
#include <arpa/inet.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median9(double *v)
{
    qsort(v, 9, sizeof *v, cmp_d);
    return v[4];
}

static double syscall_ns(void)
{
    enum { N = 20000 };
    double t0 = now_ns();
    for (int i = 0; i < N; i++) syscall(SYS_getppid);
    return (now_ns() - t0) / N;
}

static double alu_ns(void)
{
    enum { N = 2000000 };
    volatile uint64_t sink;
    uint64_t x = 1;
    double t0 = now_ns();
    for (int i = 0; i < N; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    sink = x;
    (void)sink;
    return (now_ns() - t0) / N;
}

/* A random single cycle over n slots (Sattolo's algorithm), so that every load depends on the last. */
static size_t *chase_new(size_t n)
{
    /* Huge pages where the kernel has them: TLB misses would otherwise decide the figure, and they vary
     * with where each run's page tables land. */
    size_t bytes = n * sizeof(size_t);
    size_t *v = aligned_alloc(2u << 20, bytes);
    if (!v) return NULL;
    madvise(v, bytes, MADV_HUGEPAGE);
    for (size_t i = 0; i < n; i++) v[i] = i;
    uint64_t x = 88172645463325252ULL;
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = (size_t)(x % i), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    return v;
}

static double mem_ns(const size_t *v)
{
    enum { N = 50000 };
    volatile size_t sink;
    size_t p = 0;
    double t0 = now_ns();
    for (int i = 0; i < N; i++) p = v[p];
    sink = p;
    (void)sink;
    return (now_ns() - t0) / N;
}

/* A connected loopback TCP pair (a -> b). */
static int tcp_pair(int *a, int *b)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) return -1;
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) || listen(l, 1) || getsockname(l, (struct sockaddr *)&sa, &len)) {
        close(l);
        return -1;
    }
    *a = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sizeof sa)) {
        close(l);
        return -1;
    }
    setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *b = accept(l, NULL, NULL);
    close(l);
    return *b < 0 ? -1 : 0;
}

static double loopback_us(int a, int b)
{
    enum { N = 2000 };
    char buf[200];
    memset(buf, 'x', sizeof buf);
    double t0 = now_ns();
    for (int i = 0; i < N; i++) {
        if (send(a, buf, sizeof buf, 0) != (ssize_t)sizeof buf) return -1;
        size_t got = 0;
        while (got < sizeof buf) {
            ssize_t n = recv(b, buf + got, sizeof buf - got, 0);
            if (n <= 0) return -1;
            got += (size_t)n;
        }
    }
    return (now_ns() - t0) / N / 1000.0;
}

/* One thread per CPU of this process's affinity mask, each pinned, all running alu_ns() at the same time. */
typedef struct cpu_run {
    pthread_t t;
    int cpu;
    pthread_barrier_t *go;
    double ns;
    double json_us;
} cpu_run;

/* A subscription callback body, as publishers send them. */
static const char json_doc[] =
    "{\"id\":\"3f1c2b0a9e8d7c6b5a4f3e2d1c0b9a88\",\"target\":\"properties\",\"subtarget\":\"\","
    "\"resource\":\"\",\"sequence\":1234,\"timestamp\":\"2026-11-26T07:46:45.123456Z\","
    "\"granularity\":\"high\",\"subscriptionid\":\"9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d\","
    "\"data\":{\"burst7\":\"value-7\",\"nested\":{\"a\":[1,2,3],\"b\":true,\"c\":null}}}";

/* One JSON parse and one serialisation of json_doc (branchy code, small allocations: like the daemons'). */
static double json_us(void)
{
    enum { N = 300 };
    double t0 = now_ns();
    for (int i = 0; i < N; i++) {
        json_t *j = json_loadb(json_doc, sizeof json_doc - 1, 0, NULL);
        char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
        free(out);
        json_decref(j);
    }
    return (now_ns() - t0) / N / 1000.0;
}

static void *cpu_main(void *arg)
{
    cpu_run *r = arg;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(r->cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    pthread_barrier_wait(r->go);
    double sum = 0, js = 0;
    for (int i = 0; i < 20; i++) {
        sum += alu_ns();
        js += json_us();
    }
    r->ns = sum / 20;
    r->json_us = js / 20;
    return NULL;
}

static void print_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set)) return;
    int n = CPU_COUNT(&set);
    if (n > 64) n = 64;
    cpu_run *r = calloc((size_t)n, sizeof *r);
    pthread_barrier_t go;
    if (!r || pthread_barrier_init(&go, NULL, (unsigned)n)) {
        free(r);
        return;
    }
    for (int c = 0, k = 0; c < CPU_SETSIZE && k < n; c++)
        if (CPU_ISSET(c, &set)) r[k++] = (cpu_run){.cpu = c, .go = &go};
    int started = 0;
    for (; started < n; started++)
        if (pthread_create(&r[started].t, NULL, cpu_main, &r[started])) break;
    if (started < n) { /* cannot happen in practice; do not leave the others waiting at the barrier */
        fprintf(stderr, "machine: thread start failed\n");
        exit(1);
    }
    for (int k = 0; k < n; k++) pthread_join(r[k].t, NULL);
    printf(" cpus_alu_ns=");
    for (int k = 0; k < n; k++) printf("%s%.2f", k ? "," : "", r[k].ns);
    printf(" cpus_json_us=");
    for (int k = 0; k < n; k++) printf("%s%.2f", k ? "," : "", r[k].json_us);
    pthread_barrier_destroy(&go);
    free(r);
}

int main(void)
{
    double s[9], u[9], m[9], l[9];
    int a, b;
    size_t *chase = chase_new((32u << 20) / sizeof(size_t));
    if (!chase) {
        perror("machine: memory");
        return 1;
    }
    mem_ns(chase); /* warm-up: page faults */
    if (tcp_pair(&a, &b)) {
        perror("machine: loopback pair");
        return 1;
    }
    loopback_us(a, b); /* warm-up */
    for (int i = 0; i < 9; i++) {
        s[i] = syscall_ns();
        u[i] = alu_ns();
        m[i] = mem_ns(chase);
        l[i] = loopback_us(a, b);
    }
    close(a);
    close(b);
    free(chase);
    printf("machine syscall_ns=%.0f alu_ns=%.2f mem_ns=%.1f loopback_us=%.2f", median9(s), median9(u), median9(m),
           median9(l));
    print_cpus();
    printf("\n");
    return 0;
}
