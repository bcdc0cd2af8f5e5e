/* Authentication of creators, trustees and peers (protocol.md §4). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/auth.h"
#include "util/str.h"

aw_auth_result aw_auth_basic(const aw_actor_rec *actor, const char *user, const char *pass, aw_principal *out)
{
    memset(out, 0, sizeof *out);
    if (!user || !pass) return AW_AUTH_BAD;
    /* Both comparisons always run so timing does not tell which one failed. */
    bool u = aw_ct_streq(user, actor->creator);
    bool p = aw_ct_streq(pass, actor->passphrase);
    if (!(u & p)) return AW_AUTH_BAD;
    out->kind = AW_WHO_CREATOR;
    out->approved = true;
    return AW_AUTH_OK;
}

/* §4.1: floor(len × log2(94)) > 80, i.e. at least 13 characters. */
static bool trustee_strong(const char *pass) { return pass && floor(strlen(pass) * log2(94.0)) > 80.0; }

aw_auth_result aw_auth_bearer(aw_store *s, const aw_actor_rec *actor, const char *token, aw_principal *out,
                              int *storage_status)
{
    memset(out, 0, sizeof *out);
    if (!token || !*token) return AW_AUTH_BAD;
    if (actor->trustee_root && *actor->trustee_root && actor->creator && !strcasecmp(actor->creator, "trustee") &&
        trustee_strong(actor->passphrase) && aw_ct_streq(token, actor->passphrase)) {
        out->kind = AW_WHO_TRUSTEE;
        out->approved = true;
        return AW_AUTH_OK;
    }
    aw_trust_auth t;
    int r = s->trusts->auth_by_secret(s, actor->id, token, &t); /* compares the secret in constant time */
    if (r == AW_ENOTFOUND) return AW_AUTH_BAD;
    if (r != AW_OK) {
        if (storage_status) *storage_status = r;
        return AW_AUTH_FAILED;
    }
    if (!strcmp(t.peerid, actor->id)) return AW_AUTH_BAD;
    out->kind = AW_WHO_PEER;
    aw_strlcpy(out->peerid, t.peerid, sizeof out->peerid);
    aw_strlcpy(out->relationship, t.relationship, sizeof out->relationship);
    out->approved = t.approved;
    return AW_AUTH_OK;
}
