/* Unit tests for src/core/auth.c and acl.c: Basic and Bearer authentication (protocol.md §4) and the
 * coarse ACL (§5.2) checked against every row of the §5.2 table and the ACL-decided cells of §5.4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/auth.h"
#include "store/store.h"

/* ------------------------------------------------------------------ fixtures */
typedef struct fx {
    char dir[64];
    aw_store *s;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/aw-unit-auth-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char spec[128];
    snprintf(spec, sizeof spec, "sqlite:%s/t.db", f->dir);
    assert_int_equal(aw_store_open(spec, NULL, &f->s), AW_OK);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    f->s->close(f->s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

static aw_actor_rec actor(const char *id, const char *creator, const char *pass, const char *trustee_root)
{
    aw_actor_rec a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "%s", id);
    a.creator = (char *)creator;
    a.passphrase = (char *)pass;
    a.trustee_root = (char *)trustee_root;
    return a;
}

static void add_trust(aw_store *s, const char *owner, const char *peer, const char *rel, const char *secret,
                      bool approved)
{
    aw_trust_rec t;
    memset(&t, 0, sizeof t);
    t.actor = (char *)owner;
    t.peerid = (char *)peer;
    t.baseuri = (char *)"http://127.0.0.1:1/peer";
    t.type = (char *)"urn:actingweb:test:peer";
    t.relationship = (char *)rel;
    t.secret = (char *)secret;
    t.approved = approved;
    t.peer_approved = true;
    t.verified = true;
    assert_int_equal(s->trusts->upsert(s, &t), AW_OK);
}

/* ------------------------------------------------------------------ Basic */
static void basic_auth(void **state)
{
    (void)state;
    aw_actor_rec a = actor("00000000000000000000000000000001", "maria@example.org", "s3cret-pass", NULL);
    aw_principal p;
    memset(&p, 0x5a, sizeof p);
    assert_int_equal(aw_auth_basic(&a, "maria@example.org", "s3cret-pass", &p), AW_AUTH_OK);
    assert_int_equal(p.kind, AW_WHO_CREATOR);
    assert_true(p.approved);
    assert_string_equal(p.peerid, "");
    assert_int_equal(aw_auth_basic(&a, "maria@example.org", "s3cret-pasS", &p), AW_AUTH_BAD);
    assert_int_equal(p.kind, AW_WHO_NONE);
    assert_int_equal(aw_auth_basic(&a, "maria@example.org", "s3cret-pass ", &p), AW_AUTH_BAD);
    assert_int_equal(aw_auth_basic(&a, "maria@example.org", "", &p), AW_AUTH_BAD);
    assert_int_equal(aw_auth_basic(&a, "Maria@example.org", "s3cret-pass", &p), AW_AUTH_BAD);
    assert_int_equal(aw_auth_basic(&a, "", "s3cret-pass", &p), AW_AUTH_BAD);
    assert_int_equal(aw_auth_basic(&a, NULL, "s3cret-pass", &p), AW_AUTH_BAD);
    assert_int_equal(aw_auth_basic(&a, "maria@example.org", NULL, &p), AW_AUTH_BAD);
    /* Swapped fields. */
    assert_int_equal(aw_auth_basic(&a, "s3cret-pass", "maria@example.org", &p), AW_AUTH_BAD);
}

/* ------------------------------------------------------------------ Bearer */
static void bearer_trustee_rule(void **state)
{
    fx *f = *state;
    aw_principal p;
    const char *id = "00000000000000000000000000000002";
    /* 13 characters: floor(13 * log2(94)) = 85 > 80 → strong enough. */
    aw_actor_rec a = actor(id, "trustee", "abcdefghijklm", "http://127.0.0.1:1/mgr");
    assert_int_equal(aw_auth_bearer(f->s, &a, "abcdefghijklm", &p, NULL), AW_AUTH_OK);
    assert_int_equal(p.kind, AW_WHO_TRUSTEE);
    assert_true(p.approved);
    /* Creator name compared case-insensitively. */
    a.creator = (char *)"TrUsTeE";
    assert_int_equal(aw_auth_bearer(f->s, &a, "abcdefghijklm", &p, NULL), AW_AUTH_OK);
    assert_int_equal(p.kind, AW_WHO_TRUSTEE);
    /* Wrong token. */
    assert_int_equal(aw_auth_bearer(f->s, &a, "abcdefghijklM", &p, NULL), AW_AUTH_BAD);
    assert_int_equal(p.kind, AW_WHO_NONE);
    /* 12 characters: floor(12 * log2(94)) = 78 → too weak, never a trustee. */
    aw_actor_rec weak = actor(id, "trustee", "abcdefghijkl", "http://127.0.0.1:1/mgr");
    assert_int_equal(aw_auth_bearer(f->s, &weak, "abcdefghijkl", &p, NULL), AW_AUTH_BAD);
    /* No trustee_root, or an empty one. */
    aw_actor_rec noroot = actor(id, "trustee", "abcdefghijklm", NULL);
    assert_int_equal(aw_auth_bearer(f->s, &noroot, "abcdefghijklm", &p, NULL), AW_AUTH_BAD);
    noroot.trustee_root = (char *)"";
    assert_int_equal(aw_auth_bearer(f->s, &noroot, "abcdefghijklm", &p, NULL), AW_AUTH_BAD);
    /* Creator not called trustee. */
    aw_actor_rec other = actor(id, "creator", "abcdefghijklm", "http://127.0.0.1:1/mgr");
    assert_int_equal(aw_auth_bearer(f->s, &other, "abcdefghijklm", &p, NULL), AW_AUTH_BAD);
    /* Empty and missing tokens. */
    assert_int_equal(aw_auth_bearer(f->s, &a, "", &p, NULL), AW_AUTH_BAD);
    assert_int_equal(aw_auth_bearer(f->s, &a, NULL, &p, NULL), AW_AUTH_BAD);
}

static void bearer_trust_secret(void **state)
{
    fx *f = *state;
    aw_principal p;
    const char *me = "00000000000000000000000000000003";
    const char *other = "00000000000000000000000000000004";
    aw_actor_rec a = actor(me, "creator", "pass", NULL);
    add_trust(f->s, me, "peer-friend", "friend", "secret-friend-0000000000000000000000000", true);
    add_trust(f->s, me, "peer-assoc", "associate", "secret-assoc-00000000000000000000000000", false);
    add_trust(f->s, other, "peer-x", "admin", "secret-of-another-actor-000000000000000", true);

    assert_int_equal(aw_auth_bearer(f->s, &a, "secret-friend-0000000000000000000000000", &p, NULL), AW_AUTH_OK);
    assert_int_equal(p.kind, AW_WHO_PEER);
    assert_string_equal(p.peerid, "peer-friend");
    assert_string_equal(p.relationship, "friend");
    assert_true(p.approved);

    /* Unapproved trusts still authenticate; the approval gate is the caller's business (§4.3). */
    assert_int_equal(aw_auth_bearer(f->s, &a, "secret-assoc-00000000000000000000000000", &p, NULL), AW_AUTH_OK);
    assert_string_equal(p.relationship, "associate");
    assert_false(p.approved);

    /* A secret of another actor's trust does not open this actor. */
    assert_int_equal(aw_auth_bearer(f->s, &a, "secret-of-another-actor-000000000000000", &p, NULL), AW_AUTH_BAD);
    assert_int_equal(p.kind, AW_WHO_NONE);
    /* Unknown, prefix and extended secrets. */
    assert_int_equal(aw_auth_bearer(f->s, &a, "nope", &p, NULL), AW_AUTH_BAD);
    assert_int_equal(aw_auth_bearer(f->s, &a, "secret-friend-000000000000000000000000", &p, NULL), AW_AUTH_BAD);
    assert_int_equal(aw_auth_bearer(f->s, &a, "secret-friend-00000000000000000000000000", &p, NULL), AW_AUTH_BAD);
    /* The creator passphrase as bearer is not a credential for a non-trustee actor. */
    assert_int_equal(aw_auth_bearer(f->s, &a, "pass", &p, NULL), AW_AUTH_BAD);
}

static void bearer_self_trust_never(void **state)
{
    fx *f = *state;
    aw_principal p;
    const char *me = "00000000000000000000000000000005";
    aw_actor_rec a = actor(me, "creator", "pass", NULL);
    add_trust(f->s, me, me, "admin", "self-secret-000000000000000000000000000", true);
    assert_int_equal(aw_auth_bearer(f->s, &a, "self-secret-000000000000000000000000000", &p, NULL), AW_AUTH_BAD);
    assert_int_equal(p.kind, AW_WHO_NONE);
    /* Even for a trustee-capable actor whose passphrase differs. */
    aw_actor_rec t = actor(me, "trustee", "abcdefghijklmnop", "http://127.0.0.1:1/mgr");
    assert_int_equal(aw_auth_bearer(f->s, &t, "self-secret-000000000000000000000000000", &p, NULL), AW_AUTH_BAD);
}

/* A store whose trust lookup fails: AW_AUTH_FAILED with the status, never "bad credentials". */
static int failing_auth_by_secret(aw_store *s, const char *actor, const char *secret, aw_trust_auth *out)
{
    (void)s, (void)actor, (void)secret, (void)out;
    return AW_ESTORAGE_TRANSIENT;
}

static void bearer_storage_failure(void **state)
{
    (void)state;
    aw_store_trust_ops ops;
    memset(&ops, 0, sizeof ops);
    ops.auth_by_secret = failing_auth_by_secret;
    aw_store s;
    memset(&s, 0, sizeof s);
    s.trusts = &ops;
    aw_actor_rec a = actor("00000000000000000000000000000006", "creator", "pass", NULL);
    aw_principal p;
    int st = 0;
    assert_int_equal(aw_auth_bearer(&s, &a, "anything", &p, &st), AW_AUTH_FAILED);
    assert_int_equal(st, AW_ESTORAGE_TRANSIENT);
    assert_int_equal(aw_auth_bearer(&s, &a, "anything", &p, NULL), AW_AUTH_FAILED);
}

/* ------------------------------------------------------------------ ACL */
enum { ANON, CREATOR, TRUSTEE, ADMIN, FRIEND, PARTNER, ASSOC, N_WHO };
static const char *const who_names[N_WHO] = {"anon", "creator", "trustee", "admin", "friend", "partner", "associate"};
#define SELF "peer-self"

static aw_principal who(int k)
{
    aw_principal p;
    memset(&p, 0, sizeof p);
    p.approved = true;
    switch (k) {
    case ANON: p.kind = AW_WHO_NONE; break;
    case CREATOR: p.kind = AW_WHO_CREATOR; break;
    case TRUSTEE: p.kind = AW_WHO_TRUSTEE; break;
    default:
        p.kind = AW_WHO_PEER;
        snprintf(p.peerid, sizeof p.peerid, "%s", SELF);
        snprintf(p.relationship, sizeof p.relationship, "%s", who_names[k]);
    }
    return p;
}

/* One ACL question; expect[] gives the answer for each principal in enum order ('y' / 'n'). */
typedef struct acl_case {
    const char *path;
    const char *method;
    const char *owner; /* peer id in the URL or NULL */
    const char *expect;
} acl_case;

static void run_cases(const acl_case *cases, size_t n)
{
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < N_WHO; k++) {
            aw_principal p = who(k);
            bool want = cases[i].expect[k] == 'y';
            bool got = aw_acl_allows(&p, cases[i].path, cases[i].method, cases[i].owner);
            if (got != want) {
                print_error("ACL %s %s owner=%s as %s: got %s, want %s\n", cases[i].method, cases[i].path,
                            cases[i].owner ? cases[i].owner : "-", who_names[k], got ? "allow" : "deny",
                            want ? "allow" : "deny");
                failures++;
            }
        }
    }
    assert_int_equal(failures, 0);
}

/* Each row of the §5.2 table. Principal order: anon creator trustee admin friend partner associate. */
static void acl_table_rows(void **state)
{
    (void)state;
    static const acl_case rows[] = {
        /* 1 anybody meta GET */
        {"meta", "GET", NULL, "yyyyyyy"},
        {"meta/actingweb/version", "GET", NULL, "yyyyyyy"},
        {"meta", "PUT", NULL, "nnnnnnn"},
        /* 2 anybody oauth all */
        {"oauth", "GET", NULL, "yyyyyyy"},
        {"oauth/spa/token", "POST", NULL, "yyyyyyy"},
        /* 3 owner callbacks/subscriptions POST, 4 anybody callbacks all */
        {"callbacks/subscriptions/<id>/<subid>", "POST", "someone-else", "yyyyyyy"},
        {"callbacks/subscriptions/<id>/<subid>", "POST", SELF, "yyyyyyy"},
        {"callbacks", "PUT", NULL, "yyyyyyy"},
        /* 5 creator www */
        {"www", "GET", NULL, "nynnnnn"},
        {"www/init", "POST", NULL, "nynnnnn"},
        /* 6-8 properties */
        {"properties", "GET", NULL, "nynyyyy"},
        {"properties/name", "GET", NULL, "nynyyyy"},
        {"properties", "PUT", NULL, "nynyyyn"},
        {"properties/name", "POST", NULL, "nynyyyn"},
        {"properties", "DELETE", NULL, "nynyyyn"},
        /* 9-11 resources, methods, actions */
        {"resources", "GET", NULL, "nynyyyn"},
        {"methods", "POST", NULL, "nynyyyn"},
        {"actions/x", "PUT", NULL, "nynyyyn"},
        /* 12 permissions/<id> GET */
        {"permissions/<id>", "GET", NULL, "nnnyyyy"},
        {"permissions/<id>", "PUT", NULL, "nnnnnnn"},
        /* 13 services */
        {"services", "GET", NULL, "nyyynnn"},
        {"services/x", "DELETE", NULL, "nyyynnn"},
        /* 14 anybody trust/<type> POST */
        {"trust/<type>", "POST", NULL, "yyyyyyy"},
        {"trust/<type>", "GET", NULL, "nyyynnn"},
        /* 15 owner trust/<type>/<id> all */
        {"trust/<type>/<id>", "GET", SELF, "nyyyyyy"},
        {"trust/<type>/<id>", "DELETE", SELF, "nyyyyyy"},
        {"trust/<type>/<id>", "GET", "someone-else", "nyyynnn"},
        {"trust/<type>/<id>", "DELETE", "someone-else", "nyyynnn"},
        /* 16 creator, trustee, admin trust */
        {"trust", "GET", NULL, "nyyynnn"},
        {"trust", "POST", NULL, "nyyynnn"},
        /* 17 owner subscriptions, 18 friend subscriptions/<id>, 19 creator trustee subscriptions */
        {"subscriptions/<id>", "GET", SELF, "nyyyyyy"},
        {"subscriptions/<id>", "GET", "someone-else", "nyynynn"},
        {"subscriptions", "GET", NULL, "nyynnnn"},
        {"subscriptions", "POST", NULL, "nyynnnn"},
        /* 20 creator trustee admin actor root */
        {"/", "GET", NULL, "nyyynnn"},
        {"/", "DELETE", NULL, "nyyynnn"},
        /* Nothing matches: denied for everybody. */
        {"unknown", "GET", NULL, "nnnnnnn"},
        {"", "GET", NULL, "nnnnnnn"},
    };
    run_cases(rows, sizeof rows / sizeof rows[0]);
}

/* The §5.4 matrix, for the cells the ACL decides. "per type" cells are ACL-allowed (the fine layer of
 * §5.3 decides later). 401 vs 403 for anonymous callers is the handler's choice; both are "deny" here. */
static void acl_default_matrix(void **state)
{
    (void)state;
    static const acl_case m[] = {
        {"meta", "GET", NULL, "yyyyyyy"},                          /* GET /meta... */
        {"/", "GET", NULL, "nyyynnn"},                             /* GET {root} */
        {"/", "DELETE", NULL, "nyyynnn"},                          /* DELETE {root} */
        {"properties", "GET", NULL, "nynyyyy"},                    /* associate: public/... by the fine layer */
        {"properties/a/b", "PUT", NULL, "nynyyyn"},                /* write /properties */
        {"properties", "POST", NULL, "nynyyyn"},
        {"trust", "GET", NULL, "nyyynnn"},                         /* GET/POST /trust */
        {"trust", "POST", NULL, "nyyynnn"},
        {"trust/<type>", "POST", NULL, "yyyyyyy"},                 /* POST /trust/{rel} */
        {"trust/<type>/<id>", "GET", SELF, "nyyyyyy"},             /* GET /trust/{rel}/{peer}: self */
        {"trust/<type>/<id>", "GET", "someone-else", "nyyynnn"},
        {"trust/<type>/<id>", "DELETE", SELF, "nyyyyyy"},          /* DELETE: self */
        {"trust/<type>/<id>", "DELETE", "someone-else", "nyyynnn"},
        {"subscriptions", "GET", NULL, "nyynnnn"},                 /* GET /subscriptions: admin 403 */
        {"subscriptions/<id>", "GET", SELF, "nyyyyyy"},            /* GET /subscriptions/{peer}: self */
        {"subscriptions/<id>", "GET", "someone-else", "nyynynn"},  /* ... any friend */
        /* /subscriptions/{peer}/{sub}: Ref's handler passes no owner here, so only friend (and creator,
         * trustee) pass the ACL; the handler additionally requires self (13 #10). */
        {"subscriptions/<id>/<subid>", "GET", NULL, "nyynynn"},
        {"subscriptions/<id>/<subid>", "PUT", NULL, "nyynynn"},
        {"subscriptions/<id>/<subid>", "DELETE", NULL, "nyynynn"},
        {"resources", "GET", NULL, "nynyyyn"},                     /* /resources */
        {"methods", "POST", NULL, "nynyyyn"},                      /* /methods, /actions */
        {"actions", "POST", NULL, "nynyyyn"},
        {"callbacks/subscriptions/<id>/<subid>", "POST", NULL, "yyyyyyy"}, /* /callbacks/... */
        {"callbacks/x", "GET", NULL, "yyyyyyy"},
        {"www", "GET", NULL, "nynnnnn"},                           /* /www */
    };
    run_cases(m, sizeof m / sizeof m[0]);
}

/* Cells the ACL alone cannot decide, pinned so that a change is noticed: the handlers must add the check.
 *  - POST /trust/{rel}/{peer} ({"approved":true}): rule 14 (`trust/<type>`, POST, anybody) is a prefix of
 *    `trust/<type>/<id>`, so the ACL grants every caller; the handler must require creator/trustee/admin or
 *    self (and authentication at all).
 *  - PUT /trust/{rel}/{peer}: rule 15 grants the owner; §5.4 says 403 for a peer: handler check.
 *  - POST /subscriptions/{peer}: rule 19 grants creator/trustee; §5.4 says 403: handler requires self. */
static void acl_handler_checks_needed(void **state)
{
    (void)state;
    static const acl_case c[] = {
        {"trust/<type>/<id>", "POST", "someone-else", "yyyyyyy"},
        {"trust/<type>/<id>", "PUT", SELF, "nyyyyyy"},
        {"subscriptions/<id>", "POST", SELF, "nyyyyyy"},
        {"subscriptions/<id>", "POST", "someone-else", "nyynynn"},
    };
    run_cases(c, sizeof c / sizeof c[0]);
}

static void acl_role_edge_cases(void **state)
{
    (void)state;
    /* A peer with an empty or unknown relationship matches no relationship rule. */
    aw_principal p = who(FRIEND);
    p.relationship[0] = '\0';
    assert_false(aw_acl_allows(&p, "properties", "GET", NULL));
    snprintf(p.relationship, sizeof p.relationship, "friendly");
    assert_false(aw_acl_allows(&p, "properties", "GET", NULL));
    snprintf(p.relationship, sizeof p.relationship, "frien");
    assert_false(aw_acl_allows(&p, "properties", "GET", NULL));
    /* Relationship matching is exact (case-sensitive). */
    snprintf(p.relationship, sizeof p.relationship, "Friend");
    assert_false(aw_acl_allows(&p, "properties", "GET", NULL));
    /* "owner" needs the URL peer id; a NULL owner never matches. */
    p = who(ASSOC);
    assert_true(aw_acl_allows(&p, "trust/<type>/<id>", "GET", SELF));
    assert_false(aw_acl_allows(&p, "trust/<type>/<id>", "GET", NULL));
    /* Method lists are exact words. */
    aw_principal a = who(ANON);
    assert_false(aw_acl_allows(&a, "meta", "GE", NULL));
    assert_false(aw_acl_allows(&a, "meta", "GETX", NULL));
    assert_false(aw_acl_allows(&a, "meta", "get", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_auth),
        cmocka_unit_test_setup_teardown(bearer_trustee_rule, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(bearer_trust_secret, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(bearer_self_trust_never, fx_setup, fx_teardown),
        cmocka_unit_test(bearer_storage_failure),
        cmocka_unit_test(acl_table_rows),
        cmocka_unit_test(acl_default_matrix),
        cmocka_unit_test(acl_handler_checks_needed),
        cmocka_unit_test(acl_role_edge_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
