/* actingwebd — serves ActingWeb actors out of the box (SQLite under --data).
 *
 * One aw_app per shard, each on its own thread and libuv loop, all listening on the same port with
 * SO_REUSEPORT and sharing the SQLite database. SIGINT/SIGTERM: stop accepting, finish requests in
 * flight, close storage, exit 0. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <actingweb/actingweb.h>
#include <jansson.h>
#ifdef AW_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

#include "util/log.h"

typedef enum { OPT_STR, OPT_INT, OPT_BOOL } opt_kind;

typedef struct opt_def {
    const char *name; /* long flag without dashes; env is AW_ + upper-case with '_' */
    opt_kind kind;
    const char *dflt;
    const char *help;
} opt_def;

static const opt_def opts[] = {
    {"host", OPT_STR, "127.0.0.1", "IPv4 address to listen on"},
    {"port", OPT_INT, "5555", "TCP port"},
    {"fqdn", OPT_STR, NULL, "host[:port] used in actor URLs and Location headers (default host:port)"},
    {"proto", OPT_STR, "http", "http or https, for actor URLs"},
    {"base-path", OPT_STR, "", "path prefix of actor URLs, e.g. /app (default none)"},
    {"data", OPT_STR, "./var", "directory for the SQLite database"},
    {"type", OPT_STR, "urn:actingweb:actingweb-c:actingwebd", "mini-application type URN"},
    {"desc", OPT_STR, NULL, "description served at /meta (default \"ActingWeb app: <type>\")"},
    {"devtest", OPT_BOOL, "0", "enable the /devtest test hooks (never in production)"},
    {"shards", OPT_INT, "0", "event loops (threads) sharing the port; 0 = number of cores"},
    {"log-level", OPT_STR, "info", "error, warn, info or debug"},
    {"max-body", OPT_INT, "1048576", "largest request body in bytes (413 above)"},
    {"max-header", OPT_INT, "8192", "largest request line + headers in bytes"},
    {"max-connections", OPT_INT, "10000", "concurrent connections per shard"},
    {"max-depth", OPT_INT, "64", "deepest JSON nesting accepted in request bodies"},
    {"default-relationship", OPT_STR, "associate", "relationship used when none is named"},
    {"auto-accept", OPT_BOOL, "0", "approve incoming trust requests for the default relationship at once"},
    {"gap-timeout", OPT_INT, "5", "subscriber gap timeout in seconds"},
    {"deny-private-peers", OPT_BOOL, "0", "refuse peer URLs on loopback and private addresses"},
    {"peer-timeout-ms", OPT_INT, "0", "per-attempt limit of outbound peer requests in ms (0 = 10000)"},
    {"connect-timeout-ms", OPT_INT, "0", "connect limit of outbound peer requests in ms (0 = 5000)"},
    {"verify-timeout-ms", OPT_INT, "0", "deadline of the trust verification call-back in ms (0 = 5000)"},
    {"delivery-concurrency", OPT_INT, "0", "subscription callbacks in flight per shard (0 = 64)"},
    {"peer-per-origin", OPT_INT, "0", "outbound peer requests in flight per origin (0 = 64)"},
    {"peer-ca-file", OPT_STR, NULL, "CA bundle (PEM) to verify https peers with (default: the system CA store)"},
    {"peer-max-outbound", OPT_INT, "0", "outbound peer requests in flight in total (0 = 1024)"},
    {"peer-curl-for-http", OPT_BOOL, "0", "send plain-http peer requests through libcurl too (default: the built-in HTTP/1.1 client; https always uses libcurl)"},
    {"callback-cap", OPT_INT, "0", "largest high-granularity callback body in bytes before downgrade to low (0 = 262144)"},
    {"store-threads", OPT_INT, "0", "run /meta and /properties requests on up to N worker threads with their own storage connections (0 = on the event loop)"},
    {"diff-cap", OPT_INT, "0", "diffs kept per subscription before the oldest are pruned (0 = 10000)"},
    {"config", OPT_STR, NULL, "JSON file with any of these options as keys (flags and env win)"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static const char *values[N_OPTS];

static void usage(FILE *f)
{
    fprintf(f, "usage: actingwebd [options]\n\nServes ActingWeb actors over HTTP (protocol version %s).\n\n"
               "Options (each also as an environment variable AW_<NAME>; flags win over the environment,\n"
               "which wins over --config):\n",
            AW_PROTOCOL_VERSION);
    for (size_t i = 0; i < N_OPTS; i++) {
        char env[64];
        size_t k = 0;
        k += (size_t)snprintf(env, sizeof env, "AW_");
        for (const char *p = opts[i].name; *p && k < sizeof env - 1; p++)
            env[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        env[k] = '\0';
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", opts[i].name, opts[i].kind == OPT_BOOL ? "" : " VALUE");
        fprintf(f, "  %-30s %s", flag, opts[i].help);
        if (opts[i].dflt && *opts[i].dflt && opts[i].kind != OPT_BOOL) fprintf(f, " [%s]", opts[i].dflt);
        fprintf(f, "\n  %-30s (%s)\n", "", env);
    }
    fprintf(f, "  %-30s %s\n  %-30s %s\n", "--help", "show this text", "--version", "show the product version");
}

static void env_name(const char *name, char *out, size_t n)
{
    size_t k = (size_t)snprintf(out, n, "AW_");
    for (const char *p = name; *p && k < n - 1; p++)
        out[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    out[k] = '\0';
}

static int find_opt(const char *name)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (!strcmp(opts[i].name, name)) return (int)i;
    return -1;
}

static const char *val(const char *name)
{
    int i = find_opt(name);
    return values[i] ? values[i] : opts[i].dflt;
}

static long ival(const char *name, long min, long max)
{
    const char *v = val(name);
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || x < min || x > max) {
        fprintf(stderr, "actingwebd: --%s must be an integer in [%ld, %ld]\n", name, min, max);
        exit(2);
    }
    return x;
}

static bool bval(const char *name)
{
    const char *v = val(name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

/* Options from a JSON config file, for those not set by a flag or the environment. */
static char *config_strings[N_OPTS];
static void load_config(const char *path, const bool *set)
{
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(root)) {
        fprintf(stderr, "actingwebd: cannot read config %s: %s\n", path, root ? "not a JSON object" : err.text);
        exit(2);
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        int i = find_opt(k);
        if (i < 0 || !strcmp(k, "config")) {
            fprintf(stderr, "actingwebd: unknown option in %s: %s\n", path, k);
            exit(2);
        }
        if (set[i]) continue;
        char buf[64];
        const char *s = NULL;
        if (json_is_string(v)) s = json_string_value(v);
        else if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            s = buf;
        } else if (json_is_boolean(v)) s = json_is_true(v) ? "1" : "0";
        else {
            fprintf(stderr, "actingwebd: option %s in %s must be a string, number or boolean\n", k, path);
            exit(2);
        }
        config_strings[i] = strdup(s);
        values[i] = config_strings[i];
    }
    json_decref(root);
}

typedef struct shard {
    pthread_t thread;
    aw_app *app;
    int rc;
} shard;

static void *shard_main(void *arg)
{
    shard *s = arg;
    s->rc = aw_app_run(s->app);
    if (s->rc != AW_OK) kill(getpid(), SIGTERM); /* a shard that cannot serve stops the daemon */
    return NULL;
}

/* The process allocator (CMakeLists.txt links mimalloc unless told not to or sanitizing). */
static const char *allocator(char *buf, size_t n)
{
#ifdef AW_HAVE_MIMALLOC
    int v = mi_version();
    snprintf(buf, n, "mimalloc %d.%d.%d", v / 100, v / 10 % 10, v % 10);
#else
    snprintf(buf, n, "glibc malloc");
#endif
    return buf;
}

int main(int argc, char **argv)
{
    /* Process-wide, so the program decides, not the library: SQLite's allocation statistics take a global
     * mutex on every allocation (~5 % of a publisher's instructions in bench/subscriptions.sh). Nothing
     * here reads them. Must precede any other SQLite call. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    struct option lopts[N_OPTS + 3];
    for (size_t i = 0; i < N_OPTS; i++)
        lopts[i] = (struct option){opts[i].name, opts[i].kind == OPT_BOOL ? optional_argument : required_argument,
                                   NULL, (int)(256 + i)};
    lopts[N_OPTS] = (struct option){"help", no_argument, NULL, 'h'};
    lopts[N_OPTS + 1] = (struct option){"version", no_argument, NULL, 'V'};
    lopts[N_OPTS + 2] = (struct option){NULL, 0, NULL, 0};
    bool set[N_OPTS] = {false};
    int c;
    while ((c = getopt_long(argc, argv, "hV", lopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == 'V') {
            char alloc[32];
            printf("actingwebd %s (ActingWeb protocol %s; allocator %s)\n", aw_version(), AW_PROTOCOL_VERSION,
                   allocator(alloc, sizeof alloc));
            return 0;
        }
        if (c < 256) {
            usage(stderr);
            return 2;
        }
        size_t i = (size_t)(c - 256);
        values[i] = opts[i].kind == OPT_BOOL ? (optarg ? optarg : "1") : optarg;
        set[i] = true;
    }
    if (optind < argc) {
        fprintf(stderr, "actingwebd: unexpected argument: %s\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < N_OPTS; i++) {
        if (set[i]) continue;
        char env[64];
        env_name(opts[i].name, env, sizeof env);
        const char *e = getenv(env);
        if (e) {
            values[i] = e;
            set[i] = true;
        }
    }
    if (val("config")) load_config(val("config"), set);

    int level = aw_log_level_parse(val("log-level"));
    if (level < 0) {
        fprintf(stderr, "actingwebd: --log-level must be error, warn, info or debug\n");
        return 2;
    }
    const char *proto = val("proto");
    if (strcmp(proto, "http") != 0 && strcmp(proto, "https") != 0) {
        fprintf(stderr, "actingwebd: --proto must be http or https\n");
        return 2;
    }
    long port = ival("port", 1, 65535);
    long shards = ival("shards", 0, 256);
    if (shards == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        shards = n > 0 ? n : 1;
    }
    const char *base_path = val("base-path");
    if (*base_path && (base_path[0] != '/' || base_path[strlen(base_path) - 1] == '/')) {
        fprintf(stderr, "actingwebd: --base-path must start with '/' and not end with one\n");
        return 2;
    }
    char fqdn_buf[300];
    const char *fqdn = val("fqdn");
    if (!fqdn) {
        snprintf(fqdn_buf, sizeof fqdn_buf, "%s:%ld", val("host"), port);
        fqdn = fqdn_buf;
    }
    char base_url[600];
    snprintf(base_url, sizeof base_url, "%s://%s%s", proto, fqdn, base_path);

    const char *data = val("data");
    if (mkdir(data, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "actingwebd: cannot create data directory %s: %s\n", data, strerror(errno));
        return 1;
    }
    char storage[PATH_MAX + 16];
    snprintf(storage, sizeof storage, "sqlite:%s/actingweb.db", data);

    aw_config cfg;
    aw_config_init(&cfg);
    cfg.type_urn = val("type");
    cfg.desc = val("desc");
    cfg.base_url = base_url;
    cfg.storage = storage;
    cfg.devtest = bval("devtest");
    cfg.default_relationship = val("default-relationship");
    cfg.auto_accept_default = bval("auto-accept");
    cfg.listen_host = val("host");
    cfg.listen_port = (uint16_t)port;
    cfg.reuse_port = 1;
    cfg.max_body = (size_t)ival("max-body", 0, 1L << 30);
    cfg.max_header = (size_t)ival("max-header", 1024, 1L << 20);
    cfg.max_connections = (unsigned)ival("max-connections", 1, 1000000);
    cfg.max_depth = (int)ival("max-depth", 1, 1000);
    cfg.gap_timeout_ms = (uint32_t)ival("gap-timeout", 0, 86400) * 1000u;
    cfg.net.deny_private_peers = bval("deny-private-peers");
    if (ival("peer-timeout-ms", 0, 3600000)) cfg.net.attempt_ms = (uint32_t)ival("peer-timeout-ms", 0, 3600000);
    if (ival("connect-timeout-ms", 0, 3600000)) cfg.net.connect_ms = (uint32_t)ival("connect-timeout-ms", 0, 3600000);
    if (ival("verify-timeout-ms", 0, 3600000)) cfg.net.verify_ms = (uint32_t)ival("verify-timeout-ms", 0, 3600000);
    if (ival("peer-per-origin", 0, 1000000)) cfg.net.per_origin = (uint32_t)ival("peer-per-origin", 0, 1000000);
    cfg.net.ca_file = val("peer-ca-file");
    cfg.net.curl_for_http = bval("peer-curl-for-http");
    if (ival("peer-max-outbound", 0, 1000000)) cfg.net.max_outbound = (uint32_t)ival("peer-max-outbound", 0, 1000000);
    cfg.delivery_max_concurrent = (uint32_t)ival("delivery-concurrency", 0, 1000000);
    cfg.delivery_cap_bytes = (size_t)ival("callback-cap", 0, 1L << 30);
    cfg.store_threads = (unsigned)ival("store-threads", 0, 64);
    if (ival("diff-cap", 0, 100000000)) cfg.diff_cap = (uint32_t)ival("diff-cap", 0, 100000000);
    cfg.log_level = (aw_log_level)level;

    /* Signals are taken by sigwait in this thread only; shards inherit the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    shard *sh = calloc((size_t)shards, sizeof *sh);
    if (!sh) return 1;
    int rc = 0;
    long started = 0;
    /* Created one after another so that the first applies schema migrations alone; linked before any
     * runs, so that changes one shard takes are delivered by all of them (aw_app_link_shards). */
    for (long i = 0; i < shards && rc == 0; i++) {
        int r = aw_app_new(&cfg, &sh[i].app);
        if (r != AW_OK) {
            fprintf(stderr, "actingwebd: cannot start: %s\n", aw_strerror(r));
            rc = 1;
        }
    }
    if (rc == 0 && shards > 1) {
        aw_app *apps[256];
        for (long i = 0; i < shards; i++) apps[i] = sh[i].app;
        int r = aw_app_link_shards(apps, (size_t)shards);
        if (r != AW_OK) {
            fprintf(stderr, "actingwebd: cannot link the shards: %s\n", aw_strerror(r));
            rc = 1;
        }
    }
    for (long i = 0; i < shards && rc == 0; i++) {
        if (pthread_create(&sh[i].thread, NULL, shard_main, &sh[i]) != 0) {
            rc = 1;
            break;
        }
        started++;
    }
    if (rc == 0) {
        char alloc[32];
        fprintf(stderr, "actingwebd %s: serving %s on %s:%ld with %ld shard(s), data in %s, allocator %s\n",
                aw_version(), base_url, cfg.listen_host, port, shards, data, allocator(alloc, sizeof alloc));
        int sig = 0;
        sigwait(&sigs, &sig);
    }
    for (long i = 0; i < started; i++) aw_app_stop(sh[i].app);
    for (long i = 0; i < started; i++) {
        pthread_join(sh[i].thread, NULL);
        if (sh[i].rc != AW_OK) rc = 1;
        aw_app_free(sh[i].app);
    }
    for (long i = started; i < shards; i++) aw_app_free(sh[i].app); /* created, never run (or NULL) */
    free(sh);
    for (size_t i = 0; i < N_OPTS; i++) free(config_strings[i]);
    return rc;
}
