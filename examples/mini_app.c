/* mini_app — a small ActingWeb mini-application: actors with properties, hooks, a method, an action
 * and a notification callback, served by the library's own loop (aw_app_run).
 *
 *   mini_app --port 8810 --storage sqlite:/tmp/mini.db [--exit-after MS]
 *
 * What every actor of this app does, on top of the standard endpoints:
 *  - actor_created (lifecycle hook): stores property created_by = "mini_app" through the SDK.
 *  - property hook on "nickname" (PUT/POST): must be a string of 1..32 characters after trimming
 *    (else 400 with an error body); the trimmed value is what gets stored (a transform).
 *  - property hook on "*" (GET): properties whose name starts with "_" are the app's own bookkeeping;
 *    they are hidden from REST reads (404 for one, left out of GET /properties).
 *  - method "greet" (POST /methods/greet, JSON-RPC 2.0 or plain JSON): {"name": "Bob"} →
 *    {"greeting": "Hello Bob, I am <nickname>"}.
 *  - action "reset" (POST /actions/reset): deletes the nickname → {"reset": true}.
 *  - callback "notification" (POST /callbacks/notification — what examples/notify_peers sends): stores the
 *    body as property last_notification, counts it in the hidden "_notifications" and answers
 *    {"received": <count>}.
 *
 * Threads: aw_app_run() blocks the main thread and runs every hook on the app's loop. A second thread
 * waits for SIGINT/SIGTERM (or --exit-after) and calls aw_app_stop(), which is thread-safe; aw_app_run()
 * then returns once requests in flight are done. Hooks only make local SDK calls (storage), which are
 * legal on the loop thread; they never block. */
#include <actingweb/actingweb.h>
#include <actingweb/hooks.h>
#include <actingweb/properties.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define APP_URN "urn:actingweb:example.org:mini_app"

/* ---- lifecycle: a new actor gets a property, written through the SDK ---- */

static int on_actor_created(aw_app *app, const aw_lifecycle_info *info, void *ud)
{
    (void)app;
    (void)ud;
    json_t *v = json_string("mini_app");
    int r = aw_prop_set(info->actor, "created_by", v, AW_PROP_NO_HOOKS);
    json_decref(v);
    if (r != AW_OK) fprintf(stderr, "mini_app: created_by for %s: %s\n", info->actor_id, aw_strerror(r));
    return 0;
}

/* ---- property hooks ---- */

static aw_hook_result nickname_write(aw_hook_ctx *ctx, void *ud)
{
    (void)ud;
    const char *s = json_string_value(aw_hook_body(ctx));
    if (s) {
        while (isspace((unsigned char)*s)) s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1])) n--;
        if (n >= 1 && n <= 32) {
            json_t *trimmed = json_stringn(s, n);
            aw_hook_reply(ctx, 0, trimmed); /* transform: the trimmed string is stored */
            json_decref(trimmed);
            return AW_HOOK_DONE;
        }
    }
    json_t *err = json_pack("{s:{s:i,s:s}}", "error", "code", 400, "message",
                            "nickname must be a string of 1 to 32 characters");
    aw_hook_reply(ctx, 400, err); /* rejection: the request gets exactly this */
    json_decref(err);
    return AW_HOOK_DONE;
}

static aw_hook_result hide_private(aw_hook_ctx *ctx, void *ud)
{
    (void)ud;
    const char *name = aw_hook_name(ctx);
    if (name && name[0] == '_') aw_hook_hide(ctx); /* 404 for one item, absent from collections */
    return AW_HOOK_DONE;                           /* no reply: the value passes unchanged */
}

/* ---- method, action and callback hooks ---- */

static aw_hook_result greet(aw_hook_ctx *ctx, void *ud)
{
    (void)ud;
    const char *who = json_string_value(json_object_get(aw_hook_body(ctx), "name"));
    json_t *nick = NULL;
    aw_prop_get_ex(aw_hook_actor(ctx), "nickname", AW_PROP_NO_HOOKS, &nick); /* local read: fine in a hook */
    char text[256];
    snprintf(text, sizeof text, "Hello %s, I am %s", who ? who : "stranger",
             json_string_value(nick) ? json_string_value(nick) : "nobody yet");
    json_decref(nick);
    json_t *res = json_pack("{s:s}", "greeting", text);
    aw_hook_reply(ctx, 200, res);
    json_decref(res);
    return AW_HOOK_DONE;
}

static aw_hook_result reset(aw_hook_ctx *ctx, void *ud)
{
    (void)ud;
    int r = aw_prop_delete(aw_hook_actor(ctx), "nickname", AW_PROP_NO_HOOKS);
    json_t *res = json_pack("{s:b}", "reset", r == AW_OK);
    aw_hook_reply(ctx, r == AW_OK ? 200 : 500, res);
    json_decref(res);
    return AW_HOOK_DONE;
}

static aw_hook_result notification(aw_hook_ctx *ctx, void *ud)
{
    (void)ud;
    aw_actor *a = aw_hook_actor(ctx);
    json_t *body = aw_hook_body(ctx);
    if (body) aw_prop_set(a, "last_notification", body, AW_PROP_NO_HOOKS);
    json_t *count = NULL;
    json_int_t n = 0;
    if (aw_prop_get_ex(a, "_notifications", AW_PROP_NO_HOOKS, &count) == AW_OK) n = json_integer_value(count);
    json_decref(count);
    count = json_integer(++n);
    aw_prop_set(a, "_notifications", count, AW_PROP_NO_HOOKS | AW_PROP_NO_NOTIFY);
    json_decref(count);
    json_t *res = json_pack("{s:I}", "received", n);
    aw_hook_reply(ctx, 200, res);
    json_decref(res);
    return AW_HOOK_DONE;
}

/* ---- stopping from another thread ---- */

typedef struct stopper {
    aw_app *app;
    long exit_after_ms;
    atomic_bool done;
} stopper;

static void *stop_thread(void *arg)
{
    stopper *st = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!atomic_load(&st->done)) {
        struct timespec tick = {0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig > 0) {
            printf("stopping (signal %d)\n", sig);
            break;
        }
        if (st->exit_after_ms) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
            if (ms >= st->exit_after_ms) {
                printf("stopping (exit-after)\n");
                break;
            }
        }
    }
    aw_app_stop(st->app); /* thread-safe; a no-op when the app already stopped */
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mini_app --port PORT --storage sqlite:PATH [--exit-after MS]\n\n"
               "Serves the mini_app actors (" APP_URN ") on http://127.0.0.1:PORT.\n"
               "  --port PORT        HTTP port\n"
               "  --storage SPEC     storage, e.g. sqlite:/tmp/mini.db\n"
               "  --exit-after MS    stop after this long (0 = at SIGINT/SIGTERM) [0]\n"
               "  --help             this text\n");
}

int main(int argc, char **argv)
{
    long port = 0, exit_after = 0;
    const char *storage = NULL;
    static const struct option longopts[] = {{"port", required_argument, NULL, 'p'},
                                             {"storage", required_argument, NULL, 's'},
                                             {"exit-after", required_argument, NULL, 'x'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 's': storage = optarg; break;
        case 'x': exit_after = strtol(optarg, NULL, 10); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (port <= 0 || port > 65535 || !storage || exit_after < 0) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    char base_url[64];
    snprintf(base_url, sizeof base_url, "http://127.0.0.1:%ld", port);
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.type_urn = APP_URN;
    cfg.desc = "actingweb-c mini-app example";
    cfg.app_version = "1.0";
    cfg.base_url = base_url;
    cfg.storage = storage;
    cfg.listen_port = (uint16_t)port;
    cfg.log_level = AW_LOG_WARN;
    aw_app *app = NULL;
    int r = aw_app_new(&cfg, &app);
    if (r != AW_OK) {
        fprintf(stderr, "mini_app: aw_app_new: %s\n", aw_strerror(r));
        return 1;
    }

    /* Hooks are registered before the app runs. */
    json_t *in = json_pack("{s:s,s:{s:{s:s}}}", "type", "object", "properties", "name", "type", "string");
    json_t *out = json_pack("{s:s,s:{s:{s:s}}}", "type", "object", "properties", "greeting", "type", "string");
    aw_method_meta greet_meta = {"Greet the caller by name", in, out, NULL};
    aw_method_meta reset_meta = {"Forget the nickname", NULL, NULL, NULL};
    if ((r = aw_hook_lifecycle(app, AW_EV_ACTOR_CREATED, on_actor_created, NULL)) != AW_OK ||
        (r = aw_hook_property(app, "nickname", AW_HOOK_PROP_PUT | AW_HOOK_PROP_POST, nickname_write, NULL)) != AW_OK ||
        (r = aw_hook_property(app, "*", AW_HOOK_PROP_GET, hide_private, NULL)) != AW_OK ||
        (r = aw_hook_method(app, "greet", &greet_meta, greet, NULL)) != AW_OK ||
        (r = aw_hook_action(app, "reset", &reset_meta, reset, NULL)) != AW_OK ||
        (r = aw_hook_callback(app, "notification", notification, NULL)) != AW_OK) {
        fprintf(stderr, "mini_app: registering hooks: %s\n", aw_strerror(r));
        json_decref(in);
        json_decref(out);
        aw_app_free(app);
        return 1;
    }
    json_decref(in); /* the registry keeps its own references */
    json_decref(out);

    /* SIGINT/SIGTERM go to the stopper thread only. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    stopper st = {app, exit_after, false};
    pthread_t th;
    if (pthread_create(&th, NULL, stop_thread, &st) != 0) {
        fprintf(stderr, "mini_app: pthread_create: %s\n", strerror(errno));
        aw_app_free(app);
        return 1;
    }

    printf("mini_app serving %s\n", base_url);
    r = aw_app_run(app); /* blocks until aw_app_stop() */
    atomic_store(&st.done, true);
    pthread_join(th, NULL);
    aw_app_free(app);
    if (r != AW_OK) {
        fprintf(stderr, "mini_app: aw_app_run: %s\n", aw_strerror(r));
        return 1;
    }
    printf("mini_app stopped\n");
    return 0;
}
