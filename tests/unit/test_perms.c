/* Unit tests for src/core/perms.c and trust_types.c: globs, merge, the §5.3 evaluation for each
 * default trust type, overrides (taking write away from friend), exclusions, the properties
 * shorthand, and fail-closed on storage errors (protocol.md §5.3, §8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/perms.h"
#include "util/json.h"

#define A AW_PERM_ALLOWED
#define D AW_PERM_DENIED
#define N AW_PERM_NOT_FOUND

/* ------------------------------------------------------------------ fixtures */
typedef struct fx {
    char dir[64];
    aw_store *s;
    aw_app app;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/aw-unit-perms-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char spec[128];
    snprintf(spec, sizeof spec, "sqlite:%s/t.db", f->dir);
    assert_int_equal(aw_store_open(spec, NULL, &f->s), AW_OK);
    f->app.store = f->s;
    f->app.log.level = AW_LOG_ERROR;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    f->s->close(f->s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void add_trust(fx *f, const char *actor, const char *peer, const char *rel)
{
    aw_trust_rec t = {.actor = (char *)actor,
                      .peerid = (char *)peer,
                      .baseuri = "http://127.0.0.1:1/x",
                      .type = "urn:x",
                      .relationship = (char *)rel,
                      .secret = "s3cr3t",
                      .desc = "",
                      .approved = true,
                      .peer_approved = true,
                      .verified = true,
                      .verification_token = ""};
    assert_int_equal(f->s->trusts->upsert(f->s, &t), AW_OK);
}

static aw_principal peer(const char *id, const char *rel)
{
    aw_principal p;
    memset(&p, 0, sizeof p);
    p.kind = AW_WHO_PEER;
    snprintf(p.peerid, sizeof p.peerid, "%s", id);
    snprintf(p.relationship, sizeof p.relationship, "%s", rel);
    p.approved = true;
    return p;
}

static json_t *J(const char *s)
{
    json_t *v = json_loads(s, 0, NULL);
    assert_non_null(v);
    return v;
}

/* ------------------------------------------------------------------ globs */
static void test_glob(void **state)
{
    (void)state;
    assert_true(aw_perms_glob("*", ""));
    assert_true(aw_perms_glob("*", "a/b/c"));
    assert_true(aw_perms_glob("public/*", "public/x"));
    assert_true(aw_perms_glob("public/*", "public/x/y")); /* '*' crosses '/' */
    assert_true(aw_perms_glob("public/*", "public/"));
    assert_false(aw_perms_glob("public/*", "public"));
    assert_false(aw_perms_glob("public/*", "xpublic/a")); /* anchored at the start */
    assert_true(aw_perms_glob("get_*", "get_time"));
    assert_false(aw_perms_glob("get_*", "forget_time"));
    assert_false(aw_perms_glob("ping", "pingx")); /* anchored at the end */
    assert_true(aw_perms_glob("ping", "ping"));
    assert_true(aw_perms_glob("p?ng", "pong"));
    assert_false(aw_perms_glob("p?ng", "png"));
    assert_false(aw_perms_glob("p?ng", "pooong"));
    assert_true(aw_perms_glob("?", "\xc3\xa9"));      /* '?' = one UTF-8 character */
    assert_false(aw_perms_glob("??", "\xc3\xa9"));
    assert_true(aw_perms_glob("a*b*c", "aXXbYYc"));
    assert_true(aw_perms_glob("a*b*c", "abbbc"));
    assert_false(aw_perms_glob("a*b*c", "abcx"));
    assert_true(aw_perms_glob("*x", "xxx"));
    assert_true(aw_perms_glob("**", "anything"));
    assert_true(aw_perms_glob("[a]", "[a]")); /* no character classes */
    assert_false(aw_perms_glob("[a]", "a"));
    /* a pattern ending in "://" also matches as a prefix */
    assert_true(aw_perms_glob("https://", "https://"));
    assert_true(aw_perms_glob("https://", "https://example.org/a"));
    assert_false(aw_perms_glob("https://", "http://example.org"));
    assert_true(aw_perms_glob("http*://", "https://x"));
    assert_false(aw_perms_glob("x:/", "x:/y"));
    assert_false(aw_perms_glob(NULL, "x"));
    assert_false(aw_perms_glob("x", NULL));
}

/* ------------------------------------------------------------------ registry */
static void test_registry(void **state)
{
    (void)state;
    const char *names[] = {"associate", "viewer", "friend", "partner", "admin", "mcp_client"};
    assert_int_equal(aw_trust_type_count(NULL), 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(aw_trust_type_at(NULL, i)->name, names[i]);
        assert_non_null(aw_trust_type_find(NULL, names[i]));
        const json_t *p = aw_trust_type_permissions(NULL, names[i]);
        assert_true(json_is_object(p));
        json_t *copy = aw_perms_trust_type_defaults(NULL, names[i]);
        assert_true(json_equal(copy, p));
        assert_ptr_not_equal(copy, p);
        json_decref(copy);
    }
    assert_null(aw_trust_type_at(NULL, 6));
    assert_null(aw_trust_type_find(NULL, "stranger"));
    assert_null(aw_trust_type_permissions(NULL, "stranger"));
    assert_null(aw_perms_trust_type_defaults(NULL, "stranger"));
    assert_null(aw_perms_trust_type_defaults(NULL, NULL));
}

/* ------------------------------------------------------------------ evaluation per default type */
typedef struct row {
    const char *type, *category, *target, *op;
    aw_perm_decision want;
} row;

static const row matrix[] = {
    // associate: public/... read; methods get_*, ping / delete_*, admin_*, system_*; no actions
    {"associate", "properties", "public/name", "read", A},
    {"associate", "properties", "public/name", "write", D},
    {"associate", "properties", "public", "read", D},
    {"associate", "properties", "private/x", "read", D},
    {"associate", "properties", "", "read", N},
    {"associate", "methods", "get_status", "read", A},
    {"associate", "methods", "ping", "read", A},
    {"associate", "methods", "delete_all", "read", D},
    {"associate", "methods", "system_reboot", "read", D},
    {"associate", "methods", "other", "read", N},
    {"associate", "actions", "anything", "read", N},
    {"associate", "tools", "anything", "read", N},
    /* viewer */
    {"viewer", "properties", "shared/cal", "read", A},
    {"viewer", "properties", "public/a/b", "read", A},
    {"viewer", "properties", "shared/cal", "write", D},
    {"viewer", "properties", "notes", "read", D},
    {"viewer", "methods", "list_x", "read", A},
    {"viewer", "methods", "export_x", "read", A},
    {"viewer", "methods", "admin_x", "read", D},
    {"viewer", "methods", "system_x", "read", N},
    // friend: everything read, write; excluded private/..., security/..., _internal/...
    {"friend", "properties", "mood", "read", A},
    {"friend", "properties", "mood", "write", A},
    {"friend", "properties", "mood", "delete", D},
    {"friend", "properties", "mood", "subscribe", D},
    {"friend", "properties", "a/b/c", "write", A},
    {"friend", "properties", "private/diary", "read", D},
    {"friend", "properties", "security/key", "read", D},
    {"friend", "properties", "_internal/x", "read", D},
    {"friend", "properties", "privately", "read", A},
    {"friend", "properties", "", "read", A},
    {"friend", "methods", "do_it", "read", A},
    {"friend", "methods", "delete_it", "read", D},
    {"friend", "actions", "launch", "write", A},
    {"friend", "actions", "admin_x", "write", D},
    {"friend", "resources", "r", "read", N},
    /* partner */
    {"partner", "properties", "private/diary", "read", A},
    {"partner", "properties", "_internal/x", "read", D},
    {"partner", "properties", "x", "delete", D},
    {"partner", "methods", "delete_it", "read", A},
    {"partner", "methods", "admin_it", "read", D},
    {"partner", "actions", "system_x", "read", D},
    /* admin: everything */
    {"admin", "properties", "private/diary", "delete", A},
    {"admin", "properties", "_internal/x", "write", A},
    {"admin", "properties", "x", "subscribe", D},
    {"admin", "methods", "admin_x", "read", A},
    {"admin", "actions", "system_x", "read", A},
    /* mcp_client */
    {"mcp_client", "properties", "notes/1", "read", A},
    {"mcp_client", "properties", "profile/name", "read", A},
    {"mcp_client", "properties", "profile/name", "write", D},
    {"mcp_client", "properties", "calendar", "read", D},
    {"mcp_client", "methods", "search_x", "read", A},
    {"mcp_client", "methods", "delete_x", "read", N},
    {"mcp_client", "actions", "search", "read", A},
    {"mcp_client", "actions", "fetch", "read", A},
    {"mcp_client", "actions", "searchx", "read", N},
    /* unknown type: nothing configured */
    {"stranger", "properties", "x", "read", N},
};

/* Application trust types (aw_config.trust_types): a new type and one replacing a default. */
static void test_app_trust_types(void **state)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/aw-unit-tt-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char spec[128];
    snprintf(spec, sizeof spec, "sqlite:%s/t.db", dir);
    aw_trust_type_def defs[] = {
        {"colleague", "Colleague", "Work data", "{\"properties\": {\"patterns\": [\"work/*\"], \"operations\": [\"read\"]}}"},
        {"friend", NULL, NULL, "{\"properties\": {\"patterns\": [\"*\"], \"operations\": [\"read\"]}}"},
    };
    aw_config cfg;
    aw_config_init(&cfg);
    cfg.base_url = "http://127.0.0.1:1";
    cfg.storage = spec;
    cfg.log_level = AW_LOG_ERROR;
    cfg.trust_types = defs;
    cfg.n_trust_types = 2;
    aw_app *app = NULL;
    assert_int_equal(aw_app_new(&cfg, &app), AW_OK);
    assert_int_equal(aw_trust_type_count(app), 7);
    assert_string_equal(aw_trust_type_at(app, 6)->name, "colleague");
    assert_string_equal(aw_trust_type_at(app, 2)->name, "friend");
    assert_string_equal(aw_trust_type_at(app, 2)->display_name, "friend"); /* replaced */
    assert_non_null(aw_trust_type_find(app, "colleague"));
    assert_null(aw_trust_type_find(NULL, "colleague"));
    const json_t *p = aw_trust_type_permissions(app, "colleague");
    assert_int_equal(aw_perms_evaluate(p, NULL, "properties", "work/desk", "read"), AW_PERM_ALLOWED);
    assert_int_equal(aw_perms_evaluate(p, NULL, "properties", "home", "read"), AW_PERM_DENIED);
    /* the replaced friend no longer writes */
    p = aw_trust_type_permissions(app, "friend");
    assert_int_equal(aw_perms_evaluate(p, NULL, "properties", "x", "write"), AW_PERM_DENIED);
    aw_app_free(app);
    /* a bad permissions document refuses the configuration */
    defs[0].permissions_json = "[1]";
    cfg.n_trust_types = 1;
    assert_int_equal(aw_app_new(&cfg, &app), AW_EINVAL);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_default_matrix(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof matrix / sizeof matrix[0]; i++) {
        const row *r = &matrix[i];
        aw_perm_decision got = aw_perms_evaluate(aw_trust_type_permissions(NULL, r->type), NULL, r->category, r->target, r->op);
        if (got != r->want) fail_msg("%s %s '%s' %s: got %d want %d", r->type, r->category, r->target, r->op, got, r->want);
    }
}

/* ------------------------------------------------------------------ merge */
static void test_merge(void **state)
{
    (void)state;
    const json_t *friend = aw_trust_type_permissions(NULL, "friend");
    json_t *ovr = J("{\"properties\": {\"patterns\": [\"calendar/*\", \"*\"], \"operations\": [\"read\", \"subscribe\"],"
                    " \"excluded_patterns\": [\"secret\"]}, \"tools\": {\"allowed\": [\"t1\"]},"
                    " \"methods\": {\"denied\": []}, \"created_by\": \"creator\"}");
    json_t *m = aw_perms_merge(friend, ovr);
    json_t *want = J("{\"properties\": {\"patterns\": [\"*\", \"calendar/*\"], \"operations\": [\"read\", \"subscribe\"],"
                     " \"excluded_patterns\": [\"private/*\", \"security/*\", \"_internal/*\", \"secret\"]},"
                     " \"methods\": {\"allowed\": [\"*\"], \"denied\": []},"
                     " \"actions\": {\"allowed\": [\"*\"], \"denied\": [\"delete_*\", \"admin_*\", \"system_*\"]},"
                     " \"tools\": {\"allowed\": [\"t1\"]}}");
    if (!json_equal(m, want)) {
        char *s = json_dumps(m, JSON_SORT_KEYS);
        fail_msg("merge gave %s", s);
    }
    /* Evaluating the merged document equals evaluating defaults + override on the fly. */
    const char *targets[] = {"mood", "calendar/x", "secret", "private/a", ""};
    const char *ops[] = {"read", "write", "subscribe", "delete"};
    for (size_t t = 0; t < 5; t++)
        for (size_t o = 0; o < 4; o++)
            assert_int_equal(aw_perms_evaluate(m, NULL, "properties", targets[t], ops[o]),
                             aw_perms_evaluate(friend, ovr, "properties", targets[t], ops[o]));
    assert_int_equal(aw_perms_evaluate(m, NULL, "methods", "delete_x", "read"), A);
    json_decref(m);
    json_decref(want);
    /* NULL inputs */
    m = aw_perms_merge(NULL, NULL);
    assert_int_equal(json_object_size(m), 0);
    json_decref(m);
    m = aw_perms_merge(NULL, ovr);
    assert_non_null(json_object_get(m, "properties"));
    assert_null(json_object_get(m, "created_by")); /* only categories are merged */
    json_decref(m);
    json_decref(ovr);
}

/* ------------------------------------------------------------------ overrides */
static void test_override_takes_write_from_friend(void **state)
{
    (void)state;
    const json_t *friend = aw_trust_type_permissions(NULL, "friend");
    json_t *ovr = J("{\"properties\": {\"patterns\": [\"*\"], \"operations\": [\"read\", \"subscribe\"]}}");
    assert_int_equal(aw_perms_evaluate(friend, NULL, "properties", "mood", "write"), A);
    assert_int_equal(aw_perms_evaluate(friend, ovr, "properties", "mood", "write"), D);
    assert_int_equal(aw_perms_evaluate(friend, ovr, "properties", "mood", "read"), A);
    assert_int_equal(aw_perms_evaluate(friend, ovr, "properties", "mood", "subscribe"), A);
    /* exclusions of the defaults still apply (patterns are only ever added) */
    assert_int_equal(aw_perms_evaluate(friend, ovr, "properties", "private/x", "read"), D);
    json_decref(ovr);

    /* an override's excluded patterns add to the defaults' */
    ovr = J("{\"properties\": {\"excluded_patterns\": [\"diary\", \"work/*\"]}}");
    assert_int_equal(aw_perms_evaluate(friend, ovr, "properties", "diary", "read"), D);
    assert_int_equal(aw_perms_evaluate(friend, ovr, "properties", "work/desk", "read"), D);
    assert_int_equal(aw_perms_evaluate(friend, ovr, "properties", "workx", "read"), A);
    json_decref(ovr);

    // associate widened to calendar/...
    const json_t *assoc = aw_trust_type_permissions(NULL, "associate");
    ovr = J("{\"properties\": {\"patterns\": [\"calendar/*\"], \"operations\": [\"read\"]}}");
    assert_int_equal(aw_perms_evaluate(assoc, ovr, "properties", "calendar/today", "read"), A);
    assert_int_equal(aw_perms_evaluate(assoc, ovr, "properties", "public/a", "read"), A);
    assert_int_equal(aw_perms_evaluate(assoc, ovr, "properties", "mood", "read"), D);
    json_decref(ovr);

    /* an empty operations list takes everything away (fail closed, no ACL fallback) */
    ovr = J("{\"properties\": {\"operations\": []}}");
    assert_int_equal(aw_perms_evaluate(friend, ovr, "properties", "mood", "read"), D);
    json_decref(ovr);

    /* methods: denied replaced, allowed replaced */
    ovr = J("{\"methods\": {\"allowed\": [\"get_*\"], \"denied\": [\"get_secret\"]}}");
    assert_int_equal(aw_perms_evaluate(friend, ovr, "methods", "get_time", "read"), A);
    assert_int_equal(aw_perms_evaluate(friend, ovr, "methods", "get_secret", "read"), D);
    assert_int_equal(aw_perms_evaluate(friend, ovr, "methods", "delete_x", "read"), N);
    assert_int_equal(aw_perms_evaluate(friend, ovr, "methods", "run", "read"), N);
    json_decref(ovr);

    /* denied beats allowed */
    ovr = J("{\"tools\": {\"allowed\": [\"*\"], \"denied\": [\"rm\"]}}");
    assert_int_equal(aw_perms_evaluate(NULL, ovr, "tools", "rm", "read"), D);
    assert_int_equal(aw_perms_evaluate(NULL, ovr, "tools", "ls", "read"), A);
    json_decref(ovr);

    /* resources with patterns */
    ovr = J("{\"resources\": {\"patterns\": [\"https://\"], \"operations\": [\"read\"]}}");
    assert_int_equal(aw_perms_evaluate(NULL, ovr, "resources", "https://a.example/x", "read"), A);
    assert_int_equal(aw_perms_evaluate(NULL, ovr, "resources", "http://a.example/x", "read"), D);
    assert_int_equal(aw_perms_evaluate(NULL, ovr, "resources", "", "read"), N);
    json_decref(ovr);

    /* odd inputs */
    assert_int_equal(aw_perms_evaluate(friend, NULL, NULL, "x", "read"), N);
    assert_int_equal(aw_perms_evaluate(friend, NULL, "properties", NULL, "read"), A);
    assert_int_equal(aw_perms_evaluate(friend, NULL, "properties", "x", NULL), D);
    assert_int_equal(aw_perms_evaluate(friend, NULL, "nonsense", "x", "read"), N);
}

/* ------------------------------------------------------------------ update normalisation */
static void test_normalize(void **state)
{
    (void)state;
    const char *why = NULL;
    json_t *b = J("{\"properties\": [\"city\", \"mood\"], \"notes\": \"n\", \"other\": 1}");
    json_t *u = aw_perms_normalize_update(b, &why);
    assert_non_null(u);
    json_t *want = J("{\"properties\": {\"patterns\": [\"city\", \"mood\"], \"operations\": [\"read\"]}, \"notes\": \"n\"}");
    assert_true(json_equal(u, want));
    json_decref(u);
    json_decref(want);
    json_decref(b);

    const char *bad[] = {"[1]", "{\"methods\": [\"x\"]}", "{\"properties\": [1]}", "{\"tools\": {\"allowed\": \"x\"}}",
                         "{\"resources\": {\"patterns\": [null]}}", "{\"notes\": 5}", "{\"prompts\": 3}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        why = NULL;
        assert_null(aw_perms_normalize_update(b, &why));
        assert_non_null(why);
        json_decref(b);
    }
    assert_null(aw_perms_normalize_update(NULL, NULL));
    b = J("{}");
    u = aw_perms_normalize_update(b, &why);
    assert_int_equal(json_object_size(u), 0);
    json_decref(u);
    json_decref(b);
}

/* ------------------------------------------------------------------ storage-backed */
static void test_check_with_store(void **state)
{
    fx *f = *state;
    add_trust(f, "actor1", "peerF", "friend");
    add_trust(f, "actor1", "peerX", "stranger");
    aw_principal p = peer("peerF", "friend");
    int st = -1;
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "mood", "write", &st), A);
    assert_int_equal(st, AW_OK);

    /* non-peers: the ACL decides */
    aw_principal c;
    memset(&c, 0, sizeof c);
    c.kind = AW_WHO_CREATOR;
    assert_int_equal(aw_perms_check(&f->app, "actor1", &c, "properties", "private/x", "read", &st), N);
    assert_int_equal(aw_perms_check(&f->app, "actor1", NULL, "properties", "x", "read", &st), N);

    /* apply an override that takes write away */
    json_t *b = J("{\"properties\": {\"patterns\": [\"*\"], \"operations\": [\"read\", \"subscribe\"]}}");
    json_t *u = aw_perms_normalize_update(b, NULL);
    bool created = false;
    assert_int_equal(aw_perms_override_apply(&f->app, "actor1", "peerF", "friend", u, "creator", &created), AW_OK);
    assert_true(created);
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "mood", "write", &st), D);
    assert_int_equal(st, AW_OK);
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "mood", "subscribe", &st), A);
    json_decref(u);
    json_decref(b);

    /* a second update replaces only its category */
    b = J("{\"methods\": {\"allowed\": [\"get_*\"]}}");
    u = aw_perms_normalize_update(b, NULL);
    assert_int_equal(aw_perms_override_apply(&f->app, "actor1", "peerF", NULL, u, "creator", &created), AW_OK);
    assert_false(created);
    json_decref(u);
    json_decref(b);
    json_t *stored = NULL;
    assert_int_equal(aw_perms_override_get(&f->app, "actor1", "peerF", &stored), AW_OK);
    assert_non_null(json_object_get(stored, "properties"));
    assert_non_null(json_object_get(stored, "methods"));
    assert_string_equal(aw_json_str(stored, "created_by"), "creator");
    assert_true(json_is_string(json_object_get(stored, "updated_at")));
    json_decref(stored);

    /* effective set */
    json_t *eff = NULL;
    bool custom = false;
    assert_int_equal(aw_perms_effective_ex(&f->app, "actor1", "peerF", "friend", &eff, &custom), AW_OK);
    assert_true(custom);
    for (size_t i = 0; i < AW_PERM_NCATEGORIES; i++) assert_true(json_is_object(json_object_get(eff, aw_perm_categories[i])));
    json_t *ops = json_object_get(json_object_get(eff, "properties"), "operations");
    assert_int_equal(json_array_size(ops), 2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(eff, "properties"), "excluded_patterns")), 3);
    assert_int_equal(json_array_size(json_object_get(json_object_get(eff, "methods"), "denied")), 3);
    json_decref(eff);

    assert_int_equal(aw_perms_effective(&f->app, "actor1", "peerX", "stranger", &eff), AW_OK);
    assert_int_equal(json_object_size(eff), 6);
    assert_int_equal(json_object_size(json_object_get(eff, "properties")), 0);
    json_decref(eff);

    /* no trust / wrong relationship */
    b = J("{\"tools\": {}}");
    assert_int_equal(aw_perms_override_apply(&f->app, "actor1", "nobody", NULL, b, "creator", &created), AW_ENOTFOUND);
    assert_int_equal(aw_perms_override_apply(&f->app, "actor1", "peerF", "admin", b, "creator", &created), AW_ENOTFOUND);
    json_decref(b);

    /* delete the override: defaults again */
    assert_int_equal(f->s->trusts->perm_del(f->s, "actor1", "peerF"), AW_OK);
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "mood", "write", &st), A);
    assert_int_equal(aw_perms_effective_ex(&f->app, "actor1", "peerF", "friend", &eff, &custom), AW_OK);
    assert_false(custom);
    json_decref(eff);
}

/* A store whose permission reads fail: every check is DENIED with the status reported. */
static int failing_perm_get(aw_store *s, const char *actor, const char *peerid, char **json)
{
    *json = NULL;
    return AW_ESTORAGE;
}

static void test_fail_closed(void **state)
{
    fx *f = *state;
    aw_store_trust_ops ops = *f->s->trusts;
    ops.perm_get = failing_perm_get;
    const aw_store_trust_ops *orig = f->s->trusts;
    f->s->trusts = &ops;
    aw_principal p = peer("peerA", "admin");
    int st = AW_OK;
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "x", "read", &st), D);
    assert_int_equal(st, AW_ESTORAGE);
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "x", "read", NULL), D);
    json_t *eff = (json_t *)1;
    assert_int_equal(aw_perms_effective(&f->app, "actor1", "peerA", "admin", &eff), AW_ESTORAGE);
    assert_null(eff);
    f->s->trusts = orig;

    /* a stored override that is not a JSON object is a storage failure too */
    add_trust(f, "actor1", "peerB", "friend");
    assert_int_equal(f->s->trusts->perm_set(f->s, "actor1", "peerB", "not json"), AW_OK);
    p = peer("peerB", "friend");
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "mood", "read", &st), D);
    assert_int_equal(st, AW_ESTORAGE);

    /* a stored shorthand (written by another path) is read as {"patterns": [...], "operations": ["read"]} */
    assert_int_equal(f->s->trusts->perm_set(f->s, "actor1", "peerB", "{\"properties\": [\"mood\"]}"), AW_OK);
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "mood", "read", &st), A);
    assert_int_equal(st, AW_OK);
    assert_int_equal(aw_perms_check(&f->app, "actor1", &p, "properties", "mood", "write", &st), D);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_default_matrix),
        cmocka_unit_test(test_app_trust_types),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_override_takes_write_from_friend),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test_setup_teardown(test_check_with_store, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_fail_closed, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
