/* URL -> endpoint handler. The first segment is the actor id, the second names the endpoint family,
 * and each family lives in the file of the same name. */
#include <string.h>

#include "http/endpoints.h"

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
    const char *id = req->segs[0];
    if (strlen(id) >= sizeof req->actor.id) {
        aw_req_reply_error(req, 404, "no such actor");
        return;
    }
    int r = req->app->store->actors->get(req->app->store, id, &req->actor);
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
