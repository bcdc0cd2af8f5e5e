/* The access-control list of protocol.md §5.2, kept as data. First matching rule grants. */
#include <stddef.h>
#include <string.h>

#include "core/auth.h"

typedef struct acl_rule {
    const char *roles;   /* comma-separated: "" anybody, "any", "owner", "creator", "trustee", relationships */
    const char *path;    /* prefix, with placeholders */
    const char *methods; /* comma-separated, "" = all */
} acl_rule;

static const acl_rule acl_rules[] = {
    {"", "meta", "GET"},
    {"", "oauth", ""},
    {"owner", "callbacks/subscriptions", "POST"},
    {"", "callbacks", ""},
    {"creator", "www", ""},
    {"creator", "properties", ""},
    {"associate", "properties", "GET"},
    {"friend,partner,admin", "properties", ""},
    {"creator,friend,partner,admin", "resources", ""},
    {"creator,friend,partner,admin", "methods", ""},
    {"creator,friend,partner,admin", "actions", ""},
    {"associate,friend,partner,admin", "permissions/<id>", "GET"},
    {"creator,trustee,admin", "services", ""},
    {"", "trust/<type>", "POST"},
    {"owner", "trust/<type>/<id>", ""},
    {"creator,trustee,admin", "trust", ""},
    {"owner", "subscriptions", ""},
    {"friend", "subscriptions/<id>", ""},
    {"creator,trustee", "subscriptions", ""},
    {"creator,trustee,admin", "/", ""},
};

/* True when `item` is one of the comma-separated words in `list`. */
static bool in_list(const char *list, const char *item)
{
    size_t n = strlen(item);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, item, n)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

static bool role_matches(const char *roles, const aw_principal *who, const char *owner_peer)
{
    if (!*roles) return true;
    if (who->kind == AW_WHO_NONE) return false;
    if (in_list(roles, "any")) return true;
    if (who->kind == AW_WHO_CREATOR && in_list(roles, "creator")) return true;
    if (who->kind == AW_WHO_TRUSTEE && in_list(roles, "trustee")) return true;
    if (who->kind == AW_WHO_PEER) {
        if (in_list(roles, "owner") && owner_peer && !strcmp(owner_peer, who->peerid)) return true;
        if (who->relationship[0] && in_list(roles, who->relationship)) return true;
    }
    return false;
}

bool aw_acl_allows(const aw_principal *who, const char *path, const char *method, const char *owner_peer)
{
    for (size_t i = 0; i < sizeof acl_rules / sizeof acl_rules[0]; i++) {
        const acl_rule *r = &acl_rules[i];
        if (strncmp(path, r->path, strlen(r->path)) != 0) continue;
        if (*r->methods && !in_list(r->methods, method)) continue;
        if (role_matches(r->roles, who, owner_peer)) return true;
    }
    return false;
}
