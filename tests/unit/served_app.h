/* Test helper: one aw_app serving actors on a free loopback port, its loop on a thread of its own, so
 * that a test can drive it over HTTP and through the sync C API from the test thread. Header-only. */
#ifndef AW_TEST_SERVED_APP_H
#define AW_TEST_SERVED_APP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <actingweb/actingweb.h>

typedef struct actor {
    char id[64], url[160], pass[64];
} actor;

typedef struct served_app {
    aw_app *app;
    pthread_t thread;
    char base[64], dir[64];
} served_app;

static uint16_t free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static void served_quiet(aw_log_level l, const char *m, void *ud) {}

static void *served_run(void *arg)
{
    aw_app_run(arg);
    return NULL;
}

/* Start an app (storage in a new temp dir, `tune` may adjust the config) and wait for its listener.
 * Returns 0, or -1 when it does not come up. */
static int served_start(served_app *s, const char *name, void (*tune)(aw_config *cfg))
{
    snprintf(s->dir, sizeof s->dir, "/tmp/aw-%s-XXXXXX", name);
    if (!mkdtemp(s->dir)) return -1;
    char storage[128];
    snprintf(storage, sizeof storage, "sqlite:%s/db.sqlite", s->dir);
    uint16_t port = free_port();
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", port);
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.base_url = s->base;
    cfg.storage = storage;
    cfg.listen_port = port;
    cfg.log_cb = served_quiet;
    if (tune) tune(&cfg);
    if (aw_app_new(&cfg, &s->app) != AW_OK) return -1;
    if (pthread_create(&s->thread, NULL, served_run, s->app) != 0) return -1;
    for (int i = 0; i < 200; i++) {
        aw_peer_request r = {.method = "GET", .url = s->base};
        aw_retry_policy once = {1, 0};
        aw_call_opts o = AW_CALL_OPTS_INIT;
        o.retry = &once;
        aw_result *res = NULL;
        int st = aw_peer_request_sync(s->app, &r, &o, &res);
        aw_result_unref(res);
        if (st == AW_OK) return 0;
        usleep(10000);
    }
    return -1;
}

static int served_stop(served_app *s)
{
    aw_app_stop(s->app);
    pthread_join(s->thread, NULL);
    aw_app_free(s->app);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s->dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Create an actor through the factory; 0 or -1. */
static int served_actor(served_app *s, actor *a)
{
    char url[96];
    snprintf(url, sizeof url, "%s/", s->base);
    json_t *body = json_pack("{s:s}", "creator", "creator");
    aw_peer_request r = {.method = "POST", .url = url, .json = body};
    aw_result *res = NULL;
    int st = aw_peer_request_sync(s->app, &r, NULL, &res);
    json_t *j = aw_result_json(res);
    if (st == AW_OK) {
        snprintf(a->id, sizeof a->id, "%s", json_string_value(json_object_get(j, "id")));
        snprintf(a->pass, sizeof a->pass, "%s", json_string_value(json_object_get(j, "passphrase")));
        snprintf(a->url, sizeof a->url, "%s/%s", s->base, a->id);
    }
    aw_result_unref(res);
    json_decref(body);
    return st == AW_OK ? 0 : -1;
}

#endif
