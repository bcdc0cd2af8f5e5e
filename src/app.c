/* aw_app: configuration, loop ownership or attachment, shutdown sequence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "app_internal.h"
#include "http/server.h"
#include "core/hooks.h"
#include "core/subscriber.h"
#include "core/trust_types.h"
#include "peer/delivery.h"
#include "peer/engine.h"
#include "store/exec.h"
#include "store/group.h"
#include "util/rand.h"
#include "util/str.h"

const char *aw_version(void) { return AW_VERSION_STRING; }
unsigned aw_version_hex(void) { return AW_VERSION_HEX; }
void aw_free(void *p) { free(p); }

const char *aw_strerror(int status)
{
    switch (status) {
#define XX(name, value, text)                                                                      \
    case value: return text;
        AW_STATUS_MAP(XX)
#undef XX
    default: return "unknown status";
    }
}

const char *aw_err_name(int status)
{
    switch (status) {
#define XX(name, value, text)                                                                      \
    case value: return "AW_" #name;
        AW_STATUS_MAP(XX)
#undef XX
    default: return "AW_UNKNOWN";
    }
}

void aw_config_init(aw_config *c)
{
    memset(c, 0, sizeof *c);
    c->type_urn = "urn:actingweb:actingweb-c:actingwebd";
    c->app_version = "1.0";
    c->info_url = "";
    c->spec_url = "";
    c->default_relationship = "associate";
    c->listen_host = "127.0.0.1";
    c->max_body = 1u << 20;
    c->max_header = 8u << 10;
    c->max_connections = 10000;
    c->max_depth = 64;
    c->gap_timeout_ms = 5000;
    c->net.connect_ms = 5000;
    c->net.attempt_ms = 10000;
    c->net.deadline_ms = 30000;
    c->net.verify_ms = 5000;
    c->net.max_outbound = 1024;
    c->net.per_origin = 64;
    c->net.max_response = 4u << 20;
    c->log_level = AW_LOG_INFO;
    c->hook_timeout_ms = 10000;
    c->action_success_status = 200;
    c->diff_cap = 10000;
}

static const char *own(aw_app *app, const char *s)
{
    if (!s) return NULL;
    if (app->n_own >= sizeof app->own_strings / sizeof app->own_strings[0]) return NULL;
    char *d = strdup(s);
    if (d) app->own_strings[app->n_own++] = d;
    return d;
}

/* Split base_url into the host part (realm) and the path prefix, using libcurl's URL parser. */
static int parse_base_url(aw_app *app)
{
    CURLU *u = curl_url();
    if (!u) return AW_ENOMEM;
    int r = AW_EINVAL;
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
    if (curl_url_set(u, CURLUPART_URL, app->cfg.base_url, 0) != CURLUE_OK) goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) goto out;
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) goto out;
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    curl_url_get(u, CURLUPART_PATH, &path, 0);
    size_t n = strlen(app->cfg.base_url);
    if (n && app->cfg.base_url[n - 1] == '/') goto out;
    aw_buf b = AW_BUF_INIT;
    aw_buf_puts(&b, host);
    if (port) aw_buf_printf(&b, ":%s", port);
    app->host_header = aw_buf_take(&b);
    app->base_path = strdup(path && strcmp(path, "/") != 0 ? path : "");
    r = app->host_header && app->base_path ? AW_OK : AW_ENOMEM;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return r;
}

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int aw_app_new(const aw_config *cfg, aw_app **out)
{
    *out = NULL;
    if (!cfg || !cfg->base_url || !cfg->storage || !cfg->type_urn) return AW_EINVAL;
    /* curl_global_init is the one process-wide initialisation (design.md). */
    static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
    pthread_once(&curl_once, curl_init_once);
    aw_app *app = calloc(1, sizeof *app);
    if (!app) return AW_ENOMEM;
    app->cfg = *cfg;
    app->cfg.type_urn = own(app, cfg->type_urn);
    app->cfg.base_url = own(app, cfg->base_url);
    app->cfg.app_version = own(app, cfg->app_version ? cfg->app_version : "1.0");
    char desc[512];
    if (!cfg->desc) snprintf(desc, sizeof desc, "ActingWeb app: %s", cfg->type_urn);
    app->cfg.desc = own(app, cfg->desc ? cfg->desc : desc);
    app->cfg.info_url = own(app, cfg->info_url ? cfg->info_url : "");
    app->cfg.spec_url = own(app, cfg->spec_url ? cfg->spec_url : "");
    app->cfg.storage = own(app, cfg->storage);
    app->cfg.default_relationship = own(app, cfg->default_relationship ? cfg->default_relationship : "associate");
    app->cfg.listen_host = own(app, cfg->listen_host ? cfg->listen_host : "127.0.0.1");
    app->cfg.net.ca_file = own(app, cfg->net.ca_file);
    app->log.fn = cfg->log_cb;
    app->log.ud = cfg->log_ud;
    app->log.level = cfg->log_level;
    pthread_mutex_init(&app->post_mu, NULL);
    int r = parse_base_url(app);
    if (r != AW_OK) {
        AW_ERROR(&app->log, "invalid base URL: %s", cfg->base_url);
        aw_app_free(app);
        return r;
    }
    r = aw_trust_types_load(app);
    if (r != AW_OK) {
        AW_ERROR(&app->log, "invalid trust type in the configuration");
        aw_app_free(app);
        return r;
    }
    r = aw_store_open(app->cfg.storage, &app->log, &app->store);
    if (r != AW_OK) {
        aw_app_free(app);
        return r == AW_EINVAL ? AW_EINVAL : AW_ESTORAGE;
    }
    *out = app;
    return AW_OK;
}

aw_store *aw_app_store_slow(aw_app *app)
{
    if (aw_app_on_loop_thread(app)) return app->store;
    aw_store *s = aw_store_exec_current(app->exec);
    return s ? s : app->store;
}

bool aw_app_on_loop_thread(const aw_app *app)
{
    if (!app->attached) return false;
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &app->loop_thread) != 0;
}

char *aw_app_actor_url(const aw_app *app, const char *actor_id)
{
    aw_buf b = AW_BUF_INIT; /* made for every request to an actor: no printf */
    aw_buf_puts(&b, app->cfg.base_url);
    aw_buf_puts(&b, "/");
    aw_buf_puts(&b, actor_id);
    return aw_buf_take(&b);
}

uv_loop_t *aw_app_loop(aw_app *app) { return app->loop; }

uint16_t aw_app_port(const aw_app *app) { return aw_server_port(app); }

int aw_app_post(aw_app *app, void (*fn)(aw_app *app, void *ud), void *ud)
{
    aw_post *p = malloc(sizeof *p);
    if (!p) return AW_ENOMEM;
    p->fn = fn;
    p->ud = ud;
    p->next = NULL;
    pthread_mutex_lock(&app->post_mu);
    if (app->stopping || atomic_load(&app->stop_requested)) {
        pthread_mutex_unlock(&app->post_mu);
        free(p);
        return AW_ESHUTDOWN;
    }
    /* Before the loop runs, closures wait in the queue: a thread may start work right after it started
     * aw_app_run() on another thread, without a "ready" handshake. */
    if (app->post_tail) app->post_tail->next = p;
    else app->post_head = p;
    app->post_tail = p;
    bool running = app->attached;
    pthread_mutex_unlock(&app->post_mu);
    if (running) uv_async_send(&app->wakeup);
    return AW_OK;
}

static void run_posts(aw_app *app)
{
    pthread_mutex_lock(&app->post_mu);
    aw_post *p = app->post_head;
    app->post_head = app->post_tail = NULL;
    pthread_mutex_unlock(&app->post_mu);
    while (p) {
        aw_post *next = p->next;
        p->fn(app, p->ud);
        free(p);
        p = next;
    }
}

static void on_handle_closed(uv_handle_t *h) { aw_app_handle_closed(h->data); }

void aw_app_handle_closed(aw_app *app)
{
    if (--app->closing_handles > 0) return;
    /* Everything the app put on the loop is closed. */
    run_posts(app); /* closures posted before stop still run (they see AW_ESHUTDOWN state) */
    if (app->closed_cb) app->closed_cb(app, app->closed_ud);
}

/* Drive the shutdown sequence; re-entered until the server and the peer engine are idle. */
static void shutdown_step(aw_app *app);

static void begin_shutdown(aw_app *app)
{
    if (app->stopping) return;
    pthread_mutex_lock(&app->post_mu);
    app->stopping = true;
    pthread_mutex_unlock(&app->post_mu);
    AW_INFO(&app->log, "shutting down: no new connections, finishing requests in flight");
    /* Held until shutdown_step: handles closed by the steps below must not bring the count to 0 (and
     * run closed_cb) before the server has drained. */
    app->closing_handles++;
    if (app->peer) aw_peer_engine_shutdown(app);
    aw_delivery_shutdown(app);
    aw_subscriber_shutdown(app);
    aw_server_quiesce(app, shutdown_step);
}

static void shutdown_step(aw_app *app)
{
    /* Called by the server once no request is in flight; the count taken in begin_shutdown is held. */
    aw_server_close(app);
    app->closing_handles++;
    app->wakeup.data = app;
    uv_close((uv_handle_t *)&app->wakeup, on_handle_closed);
    app->closing_handles++;
    uv_close((uv_handle_t *)&app->housekeeping, on_handle_closed);
    aw_app_handle_closed(app);
}

static void on_housekeeping(uv_timer_t *t)
{
    aw_app *app = t->data;
    if (app->store && app->store->maintain) app->store->maintain(app->store);
    aw_peer_engine_trim(app);
}

static void on_wakeup(uv_async_t *a)
{
    aw_app *app = a->data;
    run_posts(app);
    if (atomic_load(&app->stop_requested)) begin_shutdown(app);
}

int aw_app_attach(aw_app *app, uv_loop_t *loop)
{
    if (!app || !loop || app->attached) return AW_EINVAL;
    app->loop = loop;
    app->loop_thread = uv_thread_self();
    app->wakeup.data = app;
    if (uv_async_init(loop, &app->wakeup, on_wakeup) != 0) return AW_ENOMEM;
    uv_timer_init(loop, &app->housekeeping);
    app->housekeeping.data = app;
    uv_timer_start(&app->housekeeping, on_housekeeping, 250, 250);
    uv_unref((uv_handle_t *)&app->housekeeping);
    pthread_mutex_lock(&app->post_mu);
    app->attached = true;
    bool queued = app->post_head != NULL;
    pthread_mutex_unlock(&app->post_mu);
    if (queued) uv_async_send(&app->wakeup);
    char rnd[9];
    aw_rand_hex(rnd, 4);
    snprintf(app->shard_id, sizeof app->shard_id, "%d-%s", (int)getpid(), rnd);
    int r = AW_OK;
    unsigned threads = app->cfg.store_threads ? app->cfg.store_threads : app->store->blocking ? 4 : 0;
    if (threads) r = aw_store_exec_new(app, threads, &app->exec);
    if (r == AW_OK) r = aw_peer_engine_start(app);
    if (r == AW_OK) r = aw_delivery_start(app);
    if (r == AW_OK) r = aw_subscriber_start(app);
    if (r == AW_OK && app->cfg.listen_port) r = aw_server_start(app);
    if (r != AW_OK) {
        atomic_store(&app->stop_requested, true);
        begin_shutdown(app);
        return r;
    }
    if (atomic_load(&app->stop_requested)) uv_async_send(&app->wakeup);
    return AW_OK;
}

int aw_app_run(aw_app *app)
{
    if (!app || app->attached) return AW_EINVAL;
    if (uv_loop_init(&app->own_loop) != 0) return AW_ENOMEM;
    app->owns_loop = true;
    int r = aw_app_attach(app, &app->own_loop);
    uv_run(&app->own_loop, UV_RUN_DEFAULT);
    uv_loop_close(&app->own_loop);
    return r;
}

void aw_app_stop(aw_app *app)
{
    if (!app) return;
    atomic_store(&app->stop_requested, true);
    if (app->attached) uv_async_send(&app->wakeup);
}

void aw_app_close(aw_app *app, void (*closed_cb)(aw_app *app, void *ud), void *ud)
{
    app->closed_cb = closed_cb;
    app->closed_ud = ud;
    aw_app_stop(app);
}

void aw_app_free(aw_app *app)
{
    if (!app) return;
    aw_shards_unlink(app); /* first: no other shard posts to it any more */
    aw_server_free(app);
    aw_delivery_free(app);
    aw_subscriber_free(app);
    aw_peer_engine_free(app);
    aw_store_exec_free(app->exec);
    app->exec = NULL;
    aw_group_free(app);
    if (app->store) app->store->close(app->store);
    aw_hooks_free(app);
    aw_post *p = app->post_head;
    while (p) {
        aw_post *n = p->next;
        free(p);
        p = n;
    }
    pthread_mutex_destroy(&app->post_mu);
    aw_trust_types_free(app);
    for (size_t i = 0; i < app->n_own; i++) free(app->own_strings[i]);
    free(app->base_path);
    free(app->host_header);
    free(app);
}
