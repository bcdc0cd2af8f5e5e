/* Authentication (protocol.md §4) and the coarse access-control list (§5.2) as pure logic. */
#ifndef AW_CORE_AUTH_H
#define AW_CORE_AUTH_H

#include <stdbool.h>

#include "store/store.h"

typedef enum aw_who_kind {
    AW_WHO_NONE = 0,   /* anonymous */
    AW_WHO_CREATOR,    /* Basic creator:passphrase */
    AW_WHO_TRUSTEE,    /* Bearer <passphrase> of an actor with trustee_root and creator "trustee" */
    AW_WHO_PEER        /* Bearer <trust secret> */
} aw_who_kind;

typedef struct aw_principal {
    aw_who_kind kind;
    char peerid[72];
    char relationship[72];
    bool approved;      /* this side's approval of the peer's trust */
} aw_principal;

typedef enum aw_auth_result {
    AW_AUTH_OK = 0,
    AW_AUTH_MISSING,   /* no Authorization header: 401 */
    AW_AUTH_BAD,       /* wrong or unsupported credentials: 403 */
    AW_AUTH_FAILED     /* storage failure while checking: 5xx */
} aw_auth_result;

/* Check a Basic pair against the actor (constant-time). */
aw_auth_result aw_auth_basic(const aw_actor_rec *actor, const char *user, const char *pass, aw_principal *out);

/* Check a bearer token: trustee passphrase (§4.1 strength rule), then a trust secret of this actor.
 * A trust whose peerid equals the actor's id never authenticates. *storage_status gets the store
 * status on AW_AUTH_FAILED. */
aw_auth_result aw_auth_bearer(aw_store *s, const aw_actor_rec *actor, const char *token, aw_principal *out,
                              int *storage_status);

/* The §5.2 ACL: first matching rule grants. `path` uses placeholders ("trust/<type>/<id>").
 * `owner_peer` is the peer id in the URL for "owner" rules, or NULL. */
bool aw_acl_allows(const aw_principal *who, const char *path, const char *method, const char *owner_peer);

#endif
