/* notify_peers — notify every trusted peer of an actor concurrently (the SDK's "notify_all_peers").
 *
 * The Python reference does
 *     results = await asyncio.gather(*[notify_peer(p) for p in peers], return_exceptions=True)
 * This is the same thing in C: aw_trust_list() gives the actor's trusts, one aw_peer_request_async()
 * per peer POSTs the message to {peer}/callbacks/notification with that trust's bearer secret, and
 * aw_gather collects the results. One failing peer neither blocks nor fails the others: every peer
 * gets its own line of output.
 *
 * The program owns a uv loop, attaches an aw_app to it without an HTTP server (listen_port 0) and
 * opens the storage of an existing deployment (for actingwebd: sqlite:<data dir>/actingweb.db), so it
 * can run next to the daemon like one more shard, or after it stopped.
 *
 *   notify_peers --storage sqlite:./var/actingweb.db --base-url http://localhost:5555 \
 *                --actor <actor id> [--message '{"text":"hello"}'] [--relationship friend]
 *                [--deadline MS] [--attempts N]
 *
 * Output, one line per trusted peer then a summary:
 *   peer <peerid> <baseuri>: answered <http status> (<AW status name>) in <ms> ms
 *   peer <peerid> <baseuri>: failed <AW status name> (<message>) in <ms> ms
 *   notified <n> peers: <answered> answered, <failed> failed, total <ms> ms
 * A peer "answered" when any HTTP response came back (a 403 from a peer without a notification hook
 * still proves delivery). Exit status: 0 when every peer answered, 1 when some peer did not,
 * 2 on a usage error, 3 when the actor or storage could not be read. */
#include <actingweb/actingweb.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct peer_call {
    char *peerid;
    char *baseuri;
    uint64_t start_ns;
    uint64_t end_ns;
} peer_call;

typedef struct notifier {
    uv_loop_t loop;
    aw_app *app;
    const char *actor_id;
    json_t *message;
    json_t *trusts;
    peer_call *calls;
    size_t n_calls;
    uint64_t start_ns;
    aw_call_opts opts;
    aw_retry_policy retry;
    int exit_code;
} notifier;

static char *dup_or(const char *s, const char *dflt) { return strdup(s ? s : dflt); }

static uint64_t now_ns(void) { return uv_hrtime(); }

static double ms_between(uint64_t a, uint64_t b) { return (double)(b - a) / 1e6; }

/* Each peer's completion goes through here first (to time it), then on to the gather's slot. */
typedef struct timed_slot {
    peer_call *call;
    aw_done_cb gather_cb;
    void *gather_ud;
} timed_slot;

static void on_peer_done(const aw_result *res, void *ud)
{
    timed_slot *t = ud;
    t->call->end_ns = now_ns();
    t->gather_cb(res, t->gather_ud);
    free(t);
}

static void on_closed(aw_app *app, void *ud)
{
    (void)app;
    (void)ud; /* the loop ends once our last handle is gone; nothing else to do */
}

static void on_all_done(aw_gather *g, const aw_result *const *results, size_t n, size_t n_failed, void *ud)
{
    (void)g;
    notifier *nt = ud;
    uint64_t end = now_ns();
    size_t answered = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        const aw_result *r = results[i];
        peer_call *c = &nt->calls[i];
        if (!c->end_ns) c->end_ns = end;
        double ms = ms_between(c->start_ns, c->end_ns);
        int http = r ? aw_result_http_status(r) : 0;
        int st = r ? aw_result_status(r) : AW_ECANCELED;
        if (http > 0) {
            /* Any HTTP answer means the notification was delivered; the status says what the peer made of it. */
            answered++;
            printf("peer %s %s: answered %d (%s) in %.1f ms\n", c->peerid, c->baseuri, http, aw_err_name(st), ms);
        } else {
            failed++;
            printf("peer %s %s: failed %s (%s) in %.1f ms\n", c->peerid, c->baseuri, aw_err_name(st),
                   r ? aw_result_message(r) : "no result", ms);
        }
    }
    printf("notified %zu peers: %zu answered, %zu failed, total %.1f ms\n", n, answered, failed,
           ms_between(nt->start_ns, end));
    (void)n_failed; /* n_failed counts non-AW_OK results; a 403 answer is AW_EPEER but still "answered" */
    fflush(stdout);
    nt->exit_code = failed ? 1 : 0;
    aw_app_close(nt->app, on_closed, nt); /* the loop returns once the app has released its handles */
}

/* Runs on the loop thread (we attached the app on this thread), so gather and async starts are legal. */
static int notify_all(notifier *nt)
{
    aw_gather *g = NULL;
    int r = aw_gather_new(nt->app, on_all_done, nt, NULL, &g);
    if (r != AW_OK) return r;
    nt->start_ns = now_ns();
    size_t n = json_array_size(nt->trusts);
    nt->calls = calloc(n ? n : 1, sizeof *nt->calls);
    if (!nt->calls) return AW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(nt->trusts, i);
        peer_call *c = &nt->calls[nt->n_calls++];
        c->peerid = dup_or(json_string_value(json_object_get(t, "peerid")), "?");
        c->baseuri = dup_or(json_string_value(json_object_get(t, "baseuri")), "");
        c->start_ns = now_ns();

        char url[2048];
        snprintf(url, sizeof url, "%s/callbacks/notification", c->baseuri);
        aw_peer_request req = {0};
        req.method = "POST";
        req.url = url;
        req.bearer = json_string_value(json_object_get(t, "secret")); /* the trust's shared secret */
        req.json = nt->message;

        aw_done_cb cb;
        void *cb_ud;
        size_t slot = aw_gather_slot(g, &cb, &cb_ud);
        timed_slot *ts = malloc(sizeof *ts);
        if (!ts) {
            aw_gather_fail(g, slot, AW_ENOMEM);
            continue;
        }
        *ts = (timed_slot){c, cb, cb_ud};
        aw_op *op = NULL;
        int sr = aw_peer_request_async(nt->app, &req, &nt->opts, on_peer_done, ts, &op);
        if (sr != AW_OK) {
            /* Failed at once (bad URL...): no callback will come. Record it and go on with the others. */
            free(ts);
            c->end_ns = now_ns();
            aw_gather_fail(g, slot, sr);
            continue;
        }
        aw_gather_attach(g, slot, op); /* cancellable through the gather (deadline / aw_gather_cancel) */
        aw_op_unref(op);
    }
    aw_gather_seal(g); /* on_all_done runs once every slot completed (next loop turn when there are none) */
    return AW_OK;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: notify_peers --storage sqlite:PATH --base-url URL --actor ID [options]\n\n"
            "POSTs a message to {peer}/callbacks/notification for every trusted peer of the actor,\n"
            "all at once, and prints each peer's result.\n\n"
            "  --storage SPEC       storage of the deployment (actingwebd: sqlite:<data>/actingweb.db)\n"
            "  --base-url URL       base URL the deployment serves actors at (http://host:port)\n"
            "  --actor ID           the actor whose trusted peers are notified\n"
            "  --message JSON       notification body [{\"message\":\"hello from <actor>\"}]\n"
            "  --relationship REL   only peers with this relationship\n"
            "  --deadline MS        per-peer deadline in milliseconds [10000]\n"
            "  --attempts N         attempts per peer (retries only when a POST provably never left) [default policy]\n"
            "  --help               this text\n");
}

int main(int argc, char **argv)
{
    const char *storage = NULL, *base_url = NULL, *actor = NULL, *message = NULL, *rel = NULL;
    long deadline = 10000, attempts = 0;
    static const struct option longopts[] = {
        {"storage", required_argument, NULL, 's'}, {"base-url", required_argument, NULL, 'b'},
        {"actor", required_argument, NULL, 'a'},   {"message", required_argument, NULL, 'm'},
        {"relationship", required_argument, NULL, 'r'}, {"deadline", required_argument, NULL, 'd'},
        {"attempts", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': storage = optarg; break;
        case 'b': base_url = optarg; break;
        case 'a': actor = optarg; break;
        case 'm': message = optarg; break;
        case 'r': rel = optarg; break;
        case 'd': deadline = strtol(optarg, NULL, 10); break;
        case 'n': attempts = strtol(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!storage || !base_url || !actor || deadline <= 0 || attempts < 0) {
        usage(stderr);
        return 2;
    }

    notifier nt = {0};
    nt.actor_id = actor;
    nt.exit_code = 3;
    if (message) {
        json_error_t jerr;
        nt.message = json_loads(message, 0, &jerr);
        if (!nt.message) {
            fprintf(stderr, "notify_peers: --message is not JSON: %s\n", jerr.text);
            return 2;
        }
    } else {
        nt.message = json_pack("{s:s}", "message", "hello");
        json_object_set_new(nt.message, "from", json_string(actor));
    }
    nt.opts = (aw_call_opts)AW_CALL_OPTS_INIT;
    nt.opts.deadline_ms = (uint32_t)deadline;
    if (attempts > 0) {
        nt.retry = (aw_retry_policy){(uint32_t)attempts, 200};
        nt.opts.retry = &nt.retry;
    }

    aw_config cfg;
    aw_config_init(&cfg);
    cfg.base_url = base_url;
    cfg.storage = storage;
    cfg.listen_port = 0;            /* no inbound server: this program only calls out */
    cfg.log_level = AW_LOG_ERROR;
    int r = aw_app_new(&cfg, &nt.app);
    if (r != AW_OK) {
        fprintf(stderr, "notify_peers: cannot open the app: %s\n", aw_strerror(r));
        json_decref(nt.message);
        return 3;
    }

    aw_trust_list_filter f = {rel, NULL, NULL};
    r = aw_trust_list(nt.app, actor, rel ? &f : NULL, &nt.trusts); /* local: fine before the loop runs */
    if (r != AW_OK) {
        fprintf(stderr, "notify_peers: cannot list the trusts of %s: %s\n", actor, aw_strerror(r));
        aw_app_free(nt.app);
        json_decref(nt.message);
        return 3;
    }

    uv_loop_init(&nt.loop);
    r = aw_app_attach(nt.app, &nt.loop); /* this thread is now the app's loop thread */
    if (r == AW_OK) r = notify_all(&nt);
    if (r != AW_OK) {
        fprintf(stderr, "notify_peers: %s\n", aw_strerror(r));
        aw_app_close(nt.app, on_closed, &nt);
        nt.exit_code = 3;
    }
    uv_run(&nt.loop, UV_RUN_DEFAULT); /* returns after on_all_done closed the app */
    if (uv_loop_close(&nt.loop) != 0) fprintf(stderr, "notify_peers: handles left on the loop\n");
    aw_app_free(nt.app);

    for (size_t i = 0; i < nt.n_calls; i++) {
        free(nt.calls[i].peerid);
        free(nt.calls[i].baseuri);
    }
    free(nt.calls);
    json_decref(nt.trusts);
    json_decref(nt.message);
    return nt.exit_code;
}
