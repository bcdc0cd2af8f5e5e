/* The SDK surface of issue #5: actors, properties, lists and attributes through the public API; two apps
 * in one process; the hook registry (transform, reject, hide, async replies from another thread, 504 on
 * timeout) through SDK calls and through HTTP against an app served on a loop thread (libcurl easy). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include <actingweb/actingweb.h>

static void quiet(aw_log_level l, const char *m, void *ud) {}

static aw_app *new_app(char dir[64], uint16_t port, uint32_t hook_timeout_ms)
{
    snprintf(dir, 64, "/tmp/aw-sdk-api-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char storage[128], base[64];
    snprintf(storage, sizeof storage, "sqlite:%s/db.sqlite", dir);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", port ? port : 1);
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.base_url = base;
    cfg.storage = storage;
    cfg.listen_port = port;
    cfg.log_cb = quiet;
    if (hook_timeout_ms) cfg.hook_timeout_ms = hook_timeout_ms;
    aw_app *app = NULL;
    assert_int_equal(aw_app_new(&cfg, &app), AW_OK);
    return app;
}

static void free_app(aw_app *app, const char *dir)
{
    aw_app_free(app);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ------------------------------------------------------------------ actors, properties, lists, attributes */

static void test_actor_lifecycle(void **st)
{
    char dir[64];
    aw_app *app = new_app(dir, 0, 0);
    aw_actor *a = NULL, *b = NULL;
    assert_int_equal(aw_actor_create(app, "  Alice@Example.COM ", NULL, NULL, &a), AW_OK);
    assert_int_equal(strlen(aw_actor_id(a)), 32);
    assert_string_equal(aw_actor_creator(a), "alice@example.com");
    assert_int_equal(strlen(aw_actor_passphrase(a)), 40);
    assert_null(aw_actor_trustee_root(a));
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:1/%s", aw_actor_id(a));
    assert_string_equal(aw_actor_root_url(a), url);
    assert_ptr_equal(aw_actor_app(a), app);

    assert_int_equal(aw_actor_get(app, aw_actor_id(a), &b), AW_OK);
    assert_string_equal(aw_actor_passphrase(b), aw_actor_passphrase(a));
    aw_actor_unref(b);
    assert_int_equal(aw_actor_get_by_creator(app, "alice@example.com", &b), AW_OK);
    assert_string_equal(aw_actor_id(b), aw_actor_id(a));
    aw_actor_unref(b);
    assert_int_equal(aw_actor_get(app, "00000000000000000000000000000000", &b), AW_ENOTFOUND);
    assert_null(b);

    aw_actor *c = NULL;
    assert_int_equal(aw_actor_create(app, "bob", "secretpass", "https://trustee.example/x", &c), AW_OK);
    assert_string_equal(aw_actor_passphrase(c), "secretpass");
    assert_string_equal(aw_actor_trustee_root(c), "https://trustee.example/x");
    assert_int_equal(aw_actor_create(app, "   ", NULL, NULL, &b), AW_EINVAL);

    json_t *v = json_integer(1);
    assert_int_equal(aw_prop_set(a, "x", v, 0), AW_OK);
    json_decref(v);
    assert_ptr_equal(aw_actor_ref(a), a); /* a second reference */
    assert_int_equal(aw_actor_delete(a), AW_OK);
    assert_string_equal(aw_actor_creator(a), "alice@example.com"); /* the handle stays usable */
    aw_actor_unref(a);
    assert_int_equal(aw_actor_get(app, aw_actor_id(a), &b), AW_ENOTFOUND);
    assert_int_equal(aw_actor_delete(a), AW_ENOTFOUND);
    aw_actor_unref(a);
    aw_actor_unref(c);
    free_app(app, dir);
}

static void test_properties(void **st)
{
    char dir[64];
    aw_app *app = new_app(dir, 0, 0);
    aw_actor *a = NULL;
    assert_int_equal(aw_actor_create(app, "creator", NULL, NULL, &a), AW_OK);
    json_t *v = json_pack("{s:s,s:{s:i}}", "name", "Ola", "addr", "zip", 7050), *out = NULL;
    assert_int_equal(aw_prop_set(a, "profile", v, 0), AW_OK);
    assert_int_equal(aw_prop_get(a, "profile", &out), AW_OK);
    assert_true(json_equal(out, v));
    json_decref(out);
    const char *path[] = {"addr", "zip"};
    assert_int_equal(aw_prop_get_path(a, "profile", path, 2, &out), AW_OK);
    assert_int_equal(json_integer_value(out), 7050);
    json_decref(out);
    const char *missing[] = {"addr", "nope"};
    assert_int_equal(aw_prop_get_path(a, "profile", missing, 2, &out), AW_ENOTFOUND);
    json_t *city = json_string("Trondheim");
    const char *cpath[] = {"addr", "city"};
    assert_int_equal(aw_prop_set_path(a, "profile", cpath, 2, city, 0), AW_OK);
    json_decref(city);
    assert_int_equal(aw_prop_get_path(a, "profile", path, 2, &out), AW_OK); /* sibling kept */
    assert_int_equal(json_integer_value(out), 7050);
    json_decref(out);
    assert_int_equal(aw_prop_get_path(a, "profile", cpath, 2, &out), AW_OK);
    assert_string_equal(json_string_value(out), "Trondheim");
    json_decref(out);
    json_decref(v);

    json_t *s = json_string("plain"), *n = json_real(2.5);
    assert_int_equal(aw_prop_set(a, "s", s, AW_PROP_NO_NOTIFY), AW_OK);
    assert_int_equal(aw_prop_set(a, "n", n, 0), AW_OK);
    assert_int_equal(aw_prop_set(a, "bad/name", n, 0), AW_EINVAL);
    assert_int_equal(aw_prop_set(a, "", n, 0), AW_EINVAL);
    assert_int_equal(aw_prop_get(a, "s", &out), AW_OK);
    assert_string_equal(json_string_value(out), "plain");
    json_decref(out);
    assert_int_equal(aw_prop_all(a, 0, &out), AW_OK);
    assert_int_equal(json_object_size(out), 3);
    assert_true(json_equal(json_object_get(out, "n"), n));
    json_decref(out);
    assert_int_equal(aw_prop_delete(a, "s", 0), AW_OK);
    assert_int_equal(aw_prop_delete(a, "s", 0), AW_OK); /* missing: still fine */
    assert_int_equal(aw_prop_get(a, "s", &out), AW_ENOTFOUND);
    assert_null(out);

    /* Lists */
    assert_int_equal(aw_list_create(a, "todo", "Things", "to do", 0), AW_OK);
    assert_int_equal(aw_list_create(a, "todo", NULL, NULL, 0), AW_ECONFLICT);
    assert_int_equal(aw_list_create(a, "n", NULL, NULL, 0), AW_ECONFLICT); /* a simple property has it */
    assert_int_equal(aw_prop_set(a, "todo", n, 0), AW_ECONFLICT);
    int64_t id1 = -1, id2 = -1, id3 = -1;
    json_t *i1 = json_pack("{s:s}", "t", "one"), *i2 = json_pack("{s:s}", "t", "two"), *i0 = json_string("zero");
    assert_int_equal(aw_list_append(a, "todo", i1, &id1, 0), AW_OK);
    assert_int_equal(aw_list_append(a, "todo", i2, &id2, 0), AW_OK);
    assert_int_equal(aw_list_insert(a, "todo", 0, i0, &id3, 0), AW_OK);
    assert_int_equal(aw_list_insert(a, "todo", 9, i0, NULL, 0), AW_ENOTFOUND);
    assert_true(id1 != id2 && id2 != id3 && id1 != id3);
    assert_int_equal(aw_list_append(a, "nolist", i1, NULL, 0), AW_ENOTFOUND);
    int64_t got_id = -1;
    assert_int_equal(aw_list_get(a, "todo", 1, &out, &got_id), AW_OK);
    assert_true(json_equal(out, i1));
    assert_int_equal(got_id, id1);
    json_decref(out);
    assert_int_equal(aw_list_get(a, "todo", 3, &out, NULL), AW_ENOTFOUND);
    assert_int_equal(aw_list_update(a, "todo", 2, i0, 0), AW_OK);
    assert_int_equal(aw_list_update(a, "todo", 5, i0, 0), AW_ENOTFOUND);
    assert_int_equal(aw_list_items(a, "todo", 0, -1, &out), AW_OK);
    assert_int_equal(json_array_size(out), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 2), "item")), "zero");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 2), "id")), id2);
    json_decref(out);
    assert_int_equal(aw_list_delete_item(a, "todo", 0, 0), AW_OK);
    assert_int_equal(aw_list_get_meta(a, "todo", &out), AW_OK);
    assert_int_equal(json_integer_value(json_object_get(out, "count")), 2);
    assert_string_equal(json_string_value(json_object_get(out, "description")), "Things");
    json_decref(out);
    assert_int_equal(aw_list_names(a, &out), AW_OK);
    assert_int_equal(json_array_size(out), 1);
    json_decref(out);
    assert_int_equal(aw_list_delete(a, "todo", 0), AW_OK);
    assert_int_equal(aw_list_delete(a, "todo", 0), AW_ENOTFOUND);
    assert_int_equal(aw_list_get_meta(a, "todo", &out), AW_ENOTFOUND);
    json_decref(i0);
    json_decref(i1);
    json_decref(i2);
    json_decref(s);
    json_decref(n);
    aw_actor_unref(a);
    free_app(app, dir);
}

static void test_attributes(void **st)
{
    char dir[64];
    aw_app *app = new_app(dir, 0, 0);
    aw_actor *a = NULL;
    assert_int_equal(aw_actor_create(app, "creator", NULL, NULL, &a), AW_OK);
    json_t *v1 = json_pack("{s:i}", "n", 1), *v2 = json_pack("{s:i}", "n", 2), *out = NULL;
    char *ts = NULL;
    assert_int_equal(aw_attr_set(a, "_private", "x", v1, NULL, 0), AW_EINVAL);
    assert_int_equal(aw_attr_set(a, "remote:abc", "x", v1, NULL, 0), AW_EINVAL);
    assert_int_equal(aw_attr_set(a, "state", "x", v1, "2026-01-01T00:00:00.000000Z", 0), AW_OK);
    assert_int_equal(aw_attr_get(a, "state", "x", &out, &ts), AW_OK);
    assert_true(json_equal(out, v1));
    assert_string_equal(ts, "2026-01-01T00:00:00.000000Z");
    aw_free(ts);
    json_decref(out);
    assert_int_equal(aw_attr_cas(a, "state", "x", v2, v2), AW_ECONFLICT);
    assert_int_equal(aw_attr_cas(a, "state", "x", v1, v2), AW_OK);
    assert_int_equal(aw_attr_get(a, "state", "x", &out, NULL), AW_OK);
    assert_true(json_equal(out, v2));
    json_decref(out);
    assert_int_equal(aw_attr_cas(a, "state", "new", NULL, v1), AW_OK); /* absent → created */
    assert_int_equal(aw_attr_cas(a, "state", "new", NULL, v1), AW_ECONFLICT);
    assert_int_equal(aw_attr_set(a, "other", "y", v1, NULL, 3600), AW_OK);
    assert_int_equal(aw_attr_bucket_get(a, "state", &out), AW_OK);
    assert_int_equal(json_object_size(out), 2);
    assert_true(json_equal(json_object_get(json_object_get(out, "x"), "data"), v2));
    json_decref(out);
    assert_int_equal(aw_attr_buckets(a, &out), AW_OK);
    assert_int_equal(json_array_size(out), 2);
    json_decref(out);
    assert_int_equal(aw_attr_delete(a, "state", "x"), AW_OK);
    assert_int_equal(aw_attr_delete(a, "state", "x"), AW_ENOTFOUND); /* consumed exactly once */
    assert_int_equal(aw_attr_bucket_delete(a, "state"), AW_OK);
    assert_int_equal(aw_attr_get(a, "state", "new", &out, NULL), AW_ENOTFOUND);
    json_decref(v1);
    json_decref(v2);
    aw_actor_unref(a);
    free_app(app, dir);
}

static void test_two_apps(void **st)
{
    char d1[64], d2[64];
    aw_app *x = new_app(d1, 0, 0), *y = new_app(d2, 0, 0);
    aw_actor *a = NULL, *b = NULL, *tmp = NULL;
    assert_int_equal(aw_actor_create(x, "same", NULL, NULL, &a), AW_OK);
    assert_int_equal(aw_actor_create(y, "same", NULL, NULL, &b), AW_OK);
    assert_int_equal(aw_actor_get(y, aw_actor_id(a), &tmp), AW_ENOTFOUND);
    assert_int_equal(aw_actor_get(x, aw_actor_id(b), &tmp), AW_ENOTFOUND);
    json_t *v1 = json_string("x"), *v2 = json_string("y"), *out = NULL;
    assert_int_equal(aw_prop_set(a, "p", v1, 0), AW_OK);
    assert_int_equal(aw_prop_set(b, "p", v2, 0), AW_OK);
    assert_int_equal(aw_prop_get(a, "p", &out), AW_OK);
    assert_string_equal(json_string_value(out), "x");
    json_decref(out);
    assert_int_equal(aw_prop_get(b, "p", &out), AW_OK);
    assert_string_equal(json_string_value(out), "y");
    json_decref(out);
    json_decref(v1);
    json_decref(v2);
    aw_actor_unref(a);
    free_app(x, d1); /* y still works after x is gone */
    assert_int_equal(aw_prop_get(b, "p", &out), AW_OK);
    json_decref(out);
    aw_actor_unref(b);
    free_app(y, d2);
}

/* ------------------------------------------------------------------ hooks through SDK calls */

static aw_hook_result upper_hook(aw_hook_ctx *ctx, void *ud)
{
    json_t *b = aw_hook_body(ctx);
    if (!json_is_string(b)) return AW_HOOK_DONE; /* pass */
    char buf[64];
    snprintf(buf, sizeof buf, "%s", json_string_value(b));
    for (char *p = buf; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    json_t *nv = json_string(buf);
    aw_hook_reply(ctx, 0, nv);
    json_decref(nv);
    return AW_HOOK_DONE;
}

static aw_hook_result suffix_hook(aw_hook_ctx *ctx, void *ud) /* "*" hook: runs after the exact one */
{
    json_t *b = aw_hook_body(ctx);
    if (!json_is_string(b) || strcmp(aw_hook_name(ctx), "shout") != 0) return AW_HOOK_DONE;
    char buf[80];
    snprintf(buf, sizeof buf, "%s!", json_string_value(b));
    json_t *nv = json_string(buf);
    aw_hook_reply(ctx, 0, nv);
    json_decref(nv);
    return AW_HOOK_DONE;
}

static aw_hook_result reject_hook(aw_hook_ctx *ctx, void *ud)
{
    aw_hook_reject(ctx);
    return AW_HOOK_DONE;
}

static aw_hook_result hide_hook(aw_hook_ctx *ctx, void *ud)
{
    aw_hook_hide(ctx);
    return AW_HOOK_DONE;
}

typedef struct later {
    aw_hook_ctx *ctx;
    int status;
    json_t *value;
    int delay_ms;
} later;

static void *reply_later(void *arg)
{
    later *l = arg;
    usleep((useconds_t)l->delay_ms * 1000);
    int r = aw_hook_reply(l->ctx, l->status, l->value);
    (void)r;
    json_decref(l->value);
    free(l);
    return NULL;
}

static aw_hook_result async_hook(aw_hook_ctx *ctx, void *ud)
{
    later *l = malloc(sizeof *l);
    l->ctx = ctx;
    l->delay_ms = 30;
    l->status = ud ? 201 : 0;
    json_t *b = aw_hook_body(ctx);
    l->value = ud ? json_pack("{s:s,s:O}", "async", "yes", "got", b ? b : json_null())
                  : json_string("from another thread");
    pthread_t t;
    pthread_create(&t, NULL, reply_later, l);
    pthread_detach(t);
    return AW_HOOK_PENDING;
}

static aw_hook_result silent_hook(aw_hook_ctx *ctx, void *ud) { return AW_HOOK_PENDING; }

static int created_count;
static int on_created(aw_app *app, const aw_lifecycle_info *info, void *ud)
{
    if (info->event == AW_EV_ACTOR_CREATED && info->actor && !strcmp(aw_actor_id(info->actor), info->actor_id))
        created_count += info->origin == AW_ORIGIN_SDK ? 1 : 100;
    return 0;
}
static int deleted_count;
static int on_deleted(aw_app *app, const aw_lifecycle_info *info, void *ud)
{
    json_t *v = NULL;
    /* still readable before the wipe */
    if (info->actor && aw_prop_get_ex(info->actor, "shout", AW_PROP_NO_HOOKS, &v) == AW_OK) deleted_count++;
    json_decref(v);
    return 0;
}

static void test_sdk_hooks(void **st)
{
    char dir[64];
    aw_app *app = new_app(dir, 0, 300);
    assert_int_equal(aw_hook_property(app, "shout", AW_HOOK_PROP_PUT, upper_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "*", AW_HOOK_PROP_PUT, suffix_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "locked", AW_HOOK_PROP_PUT | AW_HOOK_PROP_DELETE, reject_hook, NULL),
                     AW_OK);
    assert_int_equal(aw_hook_property(app, "secret", AW_HOOK_PROP_GET, hide_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "later", AW_HOOK_PROP_PUT, async_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "never", AW_HOOK_PROP_PUT, silent_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "x", 0, hide_hook, NULL), AW_EINVAL);
    assert_int_equal(aw_hook_callback(app, "subscriptions", hide_hook, NULL), AW_EINVAL);
    assert_int_equal(aw_hook_lifecycle(app, AW_EV_ACTOR_CREATED, on_created, NULL), AW_OK);
    assert_int_equal(aw_hook_lifecycle(app, AW_EV_ACTOR_DELETED, on_deleted, NULL), AW_OK);
    created_count = deleted_count = 0;
    aw_actor *a = NULL;
    assert_int_equal(aw_actor_create(app, "creator", NULL, NULL, &a), AW_OK);
    assert_int_equal(created_count, 1);
    json_t *v = json_string("hello"), *out = NULL;
    assert_int_equal(aw_prop_set(a, "shout", v, 0), AW_OK);
    assert_int_equal(aw_prop_get(a, "shout", &out), AW_OK);
    assert_string_equal(json_string_value(out), "HELLO!"); /* exact hook first, then "*" */
    json_decref(out);
    assert_int_equal(aw_prop_set(a, "shout", v, AW_PROP_NO_HOOKS), AW_OK);
    assert_int_equal(aw_prop_get(a, "shout", &out), AW_OK);
    assert_string_equal(json_string_value(out), "hello");
    json_decref(out);
    assert_int_equal(aw_prop_set(a, "locked", v, 0), AW_EDENIED);
    assert_int_equal(aw_prop_get(a, "locked", &out), AW_ENOTFOUND);
    assert_int_equal(aw_prop_set(a, "locked", v, AW_PROP_NO_HOOKS), AW_OK);
    assert_int_equal(aw_prop_delete(a, "locked", 0), AW_EDENIED);
    assert_int_equal(aw_prop_set(a, "secret", v, 0), AW_OK);
    assert_int_equal(aw_prop_get(a, "secret", &out), AW_ENOTFOUND);
    assert_int_equal(aw_prop_get_ex(a, "secret", AW_PROP_NO_HOOKS, &out), AW_OK);
    json_decref(out);
    assert_int_equal(aw_prop_all(a, 0, &out), AW_OK);
    assert_null(json_object_get(out, "secret")); /* hidden from the collection */
    assert_non_null(json_object_get(out, "locked"));
    json_decref(out);
    /* No loop: the calling thread waits for a reply from another thread. */
    assert_int_equal(aw_prop_set(a, "later", v, 0), AW_OK);
    assert_int_equal(aw_prop_get(a, "later", &out), AW_OK);
    assert_string_equal(json_string_value(out), "from another thread");
    json_decref(out);
    assert_int_equal(aw_prop_set(a, "never", v, 0), AW_ETIMEDOUT);
    json_decref(v);
    assert_int_equal(aw_actor_delete(a), AW_OK);
    assert_int_equal(deleted_count, 1);
    aw_actor_unref(a);
    free_app(app, dir);
}

/* ------------------------------------------------------------------ hooks over HTTP */

typedef struct served {
    aw_app *app;
    pthread_t thread;
    char dir[64];
    char base[64];
} served;

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

static void *run_loop(void *arg)
{
    aw_app_run(arg);
    return NULL;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud)
{
    char *buf = ud;
    size_t have = strlen(buf), add = sz * n;
    if (have + add < 4095) {
        memcpy(buf + have, p, add);
        buf[have + add] = '\0';
    }
    return add;
}

/* One request; returns the HTTP status; resp (4096) gets the body. auth "user:pass" or NULL. */
static long http(const char *method, const char *url, const char *body, const char *auth, char *resp)
{
    CURL *c = curl_easy_init();
    resp[0] = '\0';
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (auth) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, auth);
    }
    long code = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return code;
}

static void serve(served *s, uint32_t hook_timeout_ms, void (*register_hooks)(aw_app *))
{
    uint16_t port = free_port();
    s->app = new_app(s->dir, port, hook_timeout_ms);
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", port);
    register_hooks(s->app);
    assert_int_equal(pthread_create(&s->thread, NULL, run_loop, s->app), 0);
    char resp[4096];
    for (int i = 0; i < 300; i++) {
        char url[96];
        snprintf(url, sizeof url, "%s/", s->base);
        if (http("GET", url, NULL, NULL, resp) == 200) return;
        usleep(10000);
    }
    fail_msg("server did not start");
}

static void unserve(served *s)
{
    aw_app_stop(s->app);
    pthread_join(s->thread, NULL);
    free_app(s->app, s->dir);
}

static aw_hook_result method_echo(aw_hook_ctx *ctx, void *ud)
{
    json_t *b = aw_hook_body(ctx);
    json_t *r = json_pack("{s:O,s:s,s:i}", "echo", b ? b : json_null(), "verb", aw_hook_verb(ctx), "caller",
                          (int)aw_hook_caller(ctx));
    aw_hook_reply(ctx, 200, r);
    json_decref(r);
    return AW_HOOK_DONE;
}

static aw_hook_result callback_hook(aw_hook_ctx *ctx, void *ud)
{
    json_t *r = json_pack("{s:s,s:i}", "cb", aw_hook_name(ctx), "segs", (int)aw_hook_path_count(ctx));
    aw_hook_reply(ctx, 0, r); /* a transform at the end: 200 with the value */
    json_decref(r);
    return AW_HOOK_DONE;
}

static void http_hooks(aw_app *app)
{
    aw_method_meta meta = {.description = "Echo the params", .input_schema = NULL};
    json_t *schema = json_pack("{s:s}", "type", "object");
    meta.input_schema = schema;
    assert_int_equal(aw_hook_method(app, "echo", &meta, method_echo, NULL), AW_OK);
    json_decref(schema);
    assert_int_equal(aw_hook_method(app, "get_slow", NULL, silent_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_action(app, "launch", &meta, method_echo, NULL), AW_OK);
    assert_int_equal(aw_hook_resource(app, "things", async_hook, (void *)1), AW_OK);
    assert_int_equal(aw_hook_resource(app, "stuck", silent_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_callback(app, "bot", callback_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "shout", AW_HOOK_PROP_PUT | AW_HOOK_PROP_POST, upper_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "shoutlist", AW_HOOK_PROP_PUT | AW_HOOK_PROP_POST, upper_hook, NULL),
                     AW_OK);
    assert_int_equal(aw_hook_property(app, "locked", AW_HOOK_PROP_ALL & ~AW_HOOK_PROP_GET, reject_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "secret", AW_HOOK_PROP_GET, hide_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_property(app, "later", AW_HOOK_PROP_GET, async_hook, NULL), AW_OK);
    assert_int_equal(aw_hook_lifecycle(app, AW_EV_ACTOR_CREATED, on_created, NULL), AW_OK);
}

static void test_http_hooks(void **st)
{
    served s;
    serve(&s, 500, http_hooks);
    created_count = 0;
    char resp[4096], url[256], auth[128];
    snprintf(url, sizeof url, "%s/", s.base);
    assert_int_equal(http("POST", url, "{\"creator\":\"creator\"}", NULL, resp), 201);
    assert_int_equal(created_count, 100); /* origin http */
    json_t *j = json_loads(resp, 0, NULL);
    char id[64], pass[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    snprintf(pass, sizeof pass, "%s", json_string_value(json_object_get(j, "passphrase")));
    json_decref(j);
    snprintf(auth, sizeof auth, "creator:%s", pass);
    char root[160];
    snprintf(root, sizeof root, "%s/%s", s.base, id);

    /* SDK calls from this thread while the loop runs are handed to the loop. */
    aw_actor *a = NULL;
    assert_int_equal(aw_actor_get(s.app, id, &a), AW_OK);
    json_t *v = json_string("sdk"), *out = NULL;
    assert_int_equal(aw_prop_set(a, "secret", v, 0), AW_OK);
    assert_int_equal(aw_prop_set(a, "later", v, 0), AW_OK);
    assert_int_equal(aw_prop_set(a, "plain", v, 0), AW_OK);
    assert_int_equal(aw_prop_get(a, "later", &out), AW_OK); /* async GET hook on the loop */
    assert_string_equal(json_string_value(out), "from another thread");
    json_decref(out);
    json_decref(v);

    /* Property hooks over REST */
    snprintf(url, sizeof url, "%s/properties/shout", root);
    assert_int_equal(http("PUT", url, "\"quiet\"", auth, resp), 204);
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    assert_string_equal(resp, "\"QUIET\"");
    snprintf(url, sizeof url, "%s/properties/locked", root);
    assert_int_equal(http("PUT", url, "1", auth, resp), 403);
    assert_int_equal(http("DELETE", url, NULL, auth, resp), 403);
    snprintf(url, sizeof url, "%s/properties", root);
    assert_int_equal(http("POST", url, "{\"shout\":\"posted\"}", auth, resp), 201);
    assert_int_equal(http("POST", url, "{\"shout\":\"x\",\"locked\":2}", auth, resp), 403);
    snprintf(url, sizeof url, "%s/properties/shout", root);
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    assert_string_equal(resp, "POSTED"); /* a posted string is stored as text (protocol.md §6.4) */
    snprintf(url, sizeof url, "%s/properties/secret", root);
    assert_int_equal(http("GET", url, NULL, auth, resp), 404);
    /* ... and on nested paths, with the hooks of the top-level name */
    snprintf(url, sizeof url, "%s/properties/shout/inner", root);
    assert_int_equal(http("PUT", url, "\"low\"", auth, resp), 204);
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    assert_string_equal(resp, "\"LOW\"");
    snprintf(url, sizeof url, "%s/properties/locked/a", root);
    assert_int_equal(http("PUT", url, "1", auth, resp), 403);
    assert_int_equal(http("DELETE", url, NULL, auth, resp), 403);
    /* ... and on list items (the hooks of the list's name) */
    snprintf(url, sizeof url, "%s/properties", root);
    assert_int_equal(http("POST", url, "{\"shoutlist\":{\"_type\":\"list\"}}", auth, resp), 201);
    snprintf(url, sizeof url, "%s/properties/shoutlist", root);
    assert_int_equal(http("POST", url, "\"item\"", auth, resp), 201);
    snprintf(url, sizeof url, "%s/properties/shoutlist/0", root);
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    assert_string_equal(resp, "\"ITEM\""); /* transformed by the list's POST hook */
    assert_int_equal(http("PUT", url, "\"again\"", auth, resp), 204);
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    assert_string_equal(resp, "\"AGAIN\"");
    snprintf(url, sizeof url, "%s/properties/later", root);
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    assert_string_equal(resp, "\"from another thread\"");
    snprintf(url, sizeof url, "%s/properties", root);
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    j = json_loads(resp, 0, NULL);
    assert_null(json_object_get(j, "secret"));
    assert_non_null(json_object_get(j, "plain"));
    /* a GET hook that answers later from another thread also works inside the collection */
    assert_string_equal(json_string_value(json_object_get(j, "later")), "from another thread");
    json_decref(j);

    /* /methods */
    snprintf(url, sizeof url, "%s/methods", root);
    assert_int_equal(http("GET", url, NULL, NULL, resp), 403); /* anonymous: 403, not 401 */
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    j = json_loads(resp, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(j, "methods")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "methods"), 0),
                                                          "description")),
                        "Echo the params");
    json_decref(j);
    snprintf(url, sizeof url, "%s/methods/echo", root);
    assert_int_equal(http("POST", url, "{\"a\":1}", auth, resp), 200);
    j = json_loads(resp, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "echo"), "a")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "caller")), AW_CALLER_CREATOR);
    json_decref(j);
    assert_int_equal(http("POST", url, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"b\":2},\"id\":7}", auth,
                          resp), 200);
    j = json_loads(resp, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(j, "result"), "echo"), "b")),
                     2);
    json_decref(j);
    assert_int_equal(http("POST", url, "{\"jsonrpc\":\"2.0\",\"method\":\"other\",\"id\":1}", auth, resp), 200);
    assert_non_null(strstr(resp, "-32600"));
    assert_int_equal(http("POST", url, "not json", auth, resp), 400);
    assert_int_equal(http("DELETE", url, NULL, auth, resp), 204);
    snprintf(url, sizeof url, "%s/methods/nothing", root);
    assert_int_equal(http("POST", url, "{}", auth, resp), 400);
    assert_int_equal(http("POST", url, "{\"jsonrpc\":\"2.0\",\"method\":\"nothing\",\"id\":1}", auth, resp), 200);
    assert_non_null(strstr(resp, "-32601"));
    assert_int_equal(http("DELETE", url, NULL, auth, resp), 403);
    assert_int_equal(http("GET", url, NULL, auth, resp), 404);
    snprintf(url, sizeof url, "%s/methods/get_slow", root);
    assert_int_equal(http("POST", url, "{}", auth, resp), 504); /* no reply within hook_timeout */

    /* /actions */
    snprintf(url, sizeof url, "%s/actions", root);
    assert_int_equal(http("GET", url, NULL, NULL, resp), 403);
    assert_int_equal(http("GET", url, NULL, auth, resp), 200);
    assert_non_null(strstr(resp, "launch"));
    snprintf(url, sizeof url, "%s/actions/launch", root);
    assert_int_equal(http("POST", url, "{\"go\":true}", auth, resp), 200);
    snprintf(url, sizeof url, "%s/actions/none", root);
    assert_int_equal(http("POST", url, "{}", auth, resp), 400);
    assert_int_equal(http("GET", url, NULL, auth, resp), 404);

    /* /resources: async reply from another thread; no hook 404; anonymous 401; timeout 504 */
    snprintf(url, sizeof url, "%s/resources/things/a/b", root);
    assert_int_equal(http("POST", url, "{\"x\":1}", auth, resp), 201);
    j = json_loads(resp, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "async")), "yes");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "got"), "x")), 1);
    json_decref(j);
    assert_int_equal(http("POST", url, "{bad", auth, resp), 400);
    assert_int_equal(http("GET", url, NULL, NULL, resp), 401);
    snprintf(url, sizeof url, "%s/resources/unknown", root);
    assert_int_equal(http("GET", url, NULL, auth, resp), 404);
    snprintf(url, sizeof url, "%s/resources/stuck", root);
    assert_int_equal(http("GET", url, NULL, auth, resp), 504);

    /* /callbacks/<name> */
    snprintf(url, sizeof url, "%s/callbacks/bot/x", root);
    assert_int_equal(http("POST", url, "{}", NULL, resp), 200);
    assert_non_null(strstr(resp, "\"bot\""));
    snprintf(url, sizeof url, "%s/callbacks/other", root);
    assert_int_equal(http("POST", url, "{}", NULL, resp), 403);

    /* /meta advertises the endpoints */
    snprintf(url, sizeof url, "%s/meta/actingweb/supported", root);
    assert_int_equal(http("GET", url, NULL, NULL, resp), 200);
    assert_non_null(strstr(resp, "methods"));
    assert_non_null(strstr(resp, "actions"));
    assert_non_null(strstr(resp, "resources"));

    assert_int_equal(aw_actor_delete(a), AW_OK); /* with the loop: the notice path */
    aw_actor *gone = NULL;
    assert_int_equal(aw_actor_get(s.app, id, &gone), AW_ENOTFOUND);
    assert_null(gone);
    aw_actor_unref(a);
    unserve(&s);
}

/* ------------------------------------------------------------------ trust lifecycle events */

static int ev_counts[AW_EV_COUNT];
static int ev_origin[AW_EV_COUNT];
static int decision = AW_TRUST_DEFAULT;

static int on_event(aw_app *app, const aw_lifecycle_info *info, void *ud)
{
    ev_counts[info->event]++;
    ev_origin[info->event] = (int)info->origin;
    if (info->event == AW_EV_TRUST_REQUEST_RECEIVED) {
        assert_non_null(info->peer_id);
        assert_non_null(info->record);
        return decision;
    }
    return 0;
}

static void trust_hooks(aw_app *app)
{
    for (int e = 0; e < AW_EV_COUNT; e++)
        assert_int_equal(aw_hook_lifecycle(app, (aw_lifecycle_event)e, on_event, NULL), AW_OK);
    assert_int_equal(aw_hook_lifecycle(app, AW_EV_COUNT, on_event, NULL), AW_EINVAL);
}

static void test_trust_lifecycle(void **st)
{
    served s;
    serve(&s, 0, trust_hooks);
    memset(ev_counts, 0, sizeof ev_counts);
    aw_actor *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(aw_actor_create(s.app, "a", NULL, NULL, &a), AW_OK);
    assert_int_equal(aw_actor_create(s.app, "b", NULL, NULL, &b), AW_OK);
    assert_int_equal(aw_actor_create(s.app, "c", NULL, NULL, &c), AW_OK);
    assert_int_equal(ev_counts[AW_EV_ACTOR_CREATED], 3);
    assert_int_equal(ev_origin[AW_EV_ACTOR_CREATED], AW_ORIGIN_SDK);

    /* The hook approves at once: 201, and both sides end fully approved. */
    decision = AW_TRUST_APPROVE;
    aw_result *res = NULL;
    assert_int_equal(aw_trust_create_reciprocal(s.app, aw_actor_id(a), aw_actor_root_url(b), "friend", "t", NULL, &res),
                     AW_OK);
    assert_int_equal(aw_result_http_status(res), 201);
    aw_result_unref(res);
    assert_int_equal(ev_counts[AW_EV_TRUST_REQUEST_RECEIVED], 1);
    assert_int_equal(ev_counts[AW_EV_TRUST_INITIATED], 1);
    assert_int_equal(ev_counts[AW_EV_TRUST_APPROVED], 1);
    assert_int_equal(ev_counts[AW_EV_TRUST_FULLY_APPROVED_LOCAL], 1);
    assert_int_equal(ev_counts[AW_EV_TRUST_FULLY_APPROVED_REMOTE], 1);

    /* The hook denies: 403 to the initiator. */
    decision = AW_TRUST_DENY;
    res = NULL;
    assert_int_not_equal(aw_trust_create_reciprocal(s.app, aw_actor_id(a), aw_actor_root_url(c), "friend", "t", NULL,
                                                    &res),
                         AW_OK);
    assert_int_equal(aw_result_http_status(res), 403);
    aw_result_unref(res);
    decision = AW_TRUST_DEFAULT;

    /* Deleting a ends its trust with a notice to b: trust_deleted on both sides. */
    assert_int_equal(aw_actor_delete(a), AW_OK);
    assert_int_equal(ev_counts[AW_EV_ACTOR_DELETED], 1);
    assert_int_equal(ev_origin[AW_EV_ACTOR_DELETED], AW_ORIGIN_SDK);
    assert_int_equal(ev_counts[AW_EV_ACTOR_DELETED_COMPLETE], 1);
    assert_int_equal(ev_counts[AW_EV_TRUST_DELETED], 2);
    aw_actor_unref(a);
    aw_actor_unref(b);
    aw_actor_unref(c);
    unserve(&s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actor_lifecycle), cmocka_unit_test(test_properties), cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_two_apps),        cmocka_unit_test(test_sdk_hooks),  cmocka_unit_test(test_http_hooks),
        cmocka_unit_test(test_trust_lifecycle),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return r;
}
