/* URL -> endpoint handler. The first segment is the actor id, the second names the endpoint family,
 * and each family lives in the file of the same name. */
#include <string.h>

#include "core/hooks.h"
#include "http/endpoints.h"
#include "store/group.h"

typedef struct route {
    const char *name;
    void (*handler)(aw_req *req);
} route;

static const route routes[] = {
    {"meta", aw_ep_meta},
    {"properties", aw_ep_properties},
    {"trust", aw_ep_trust},
    {"permissions", aw_ep_permissions},
    {"subscriptions", aw_ep_subscriptions},
    {"callbacks", aw_ep_callbacks},
    {"devtest", aw_ep_devtest},
    {"methods", aw_ep_methods},
    {"actions", aw_ep_actions},
    {"resources", aw_ep_resources},
    {"www", aw_ep_www},
};

/* Families whose handlers touch nothing but storage (no peer calls, no hooks, no loop-only state). With
 * the storage executor on, they run on a worker thread while the connection is suspended. */
static bool storage_bound(aw_req *req)
{
    if (!req->app->exec || req->nseg < 2) return false;
    if (!strcmp(req->segs[1], "meta")) return true;
    if (!strcmp(req->segs[1], "properties")) return !aw_hooks_any(req->app, AW_HK_PROPERTY);
    return false;
}

bool aw_route_joins_group(const aw_req *req)
{
    return req->nseg == 5 && !strcmp(req->segs[1], "callbacks") && !strcmp(req->segs[2], "subscriptions") &&
           (!strcmp(req->method, "POST") || !strcmp(req->method, "PUT"));
}

void aw_route(aw_req *req)
{
    if (req->nseg == 0) {
        aw_ep_factory(req);
        return;
    }
    if (req->nseg == 1 && !strcmp(req->segs[0], "login")) {
        aw_ep_factory(req);
        return;
    }
    if (storage_bound(req)) {
        req->offload = true; /* the server suspends the connection, then queues aw_route_actor */
        return;
    }
    /* Joined before the actor is read, so all of a callback's reads share the group's lock. */
    if (aw_route_joins_group(req)) aw_group_join(req->app);
    aw_route_actor(req);
}

void aw_route_actor(aw_req *req)
{
    const char *id = req->segs[0];
    if (strlen(id) >= sizeof req->actor.id) {
        aw_req_reply_error(req, 404, "no such actor");
        return;
    }
    aw_store *s = aw_app_store(req->app);
    int r = s->actors->get(s, id, &req->actor);
    if (r == AW_ENOTFOUND) {
        aw_req_reply_error(req, 404, "no such actor");
        return;
    }
    if (r != AW_OK) {
        aw_req_reply_status(req, r, "actor");
        return;
    }
    req->have_actor = true;
    req->actor_url = aw_app_actor_url(req->app, req->actor.id);
    if (!req->actor_url) {
        aw_req_reply_status(req, AW_ENOMEM, "actor");
        return;
    }
    if (req->nseg == 1) {
        aw_ep_root(req);
        return;
    }
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!strcmp(req->segs[1], routes[i].name)) {
            routes[i].handler(req);
            return;
        }
    }
    aw_req_reply_error(req, 404, "not found");
}
