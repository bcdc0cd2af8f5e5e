/* /resources/{name}/... (protocol.md §10, Ref): any method goes to the resource hooks of {name};
 * 200 (GET/PUT/DELETE) or 201 (POST) with the hook's JSON, 404 when no hook answers, 400 for a body that
 * is not JSON. Access: the §5.2 ACL (anonymous 401; creator, friend, partner, admin). */
#include <string.h>

#include "http/endpoints.h"
#include "http/hookreq.h"

static void resource_done(aw_hook_ctx *ctx, int status, json_t *value, void *ud)
{
    aw_req *req = ud;
    if (status == AW_HOOKS_UNHANDLED) aw_req_reply_error(req, 404, "no such resource");
    else aw_hookreq_reply(req, status, value, !strcmp(req->method, "POST") ? 201 : 200);
}

void aw_ep_resources(aw_req *req)
{
    if (!aw_req_authorize(req, "resources", NULL, false)) return;
    if (req->nseg < 3) {
        aw_req_reply_error(req, 404, "no such resource");
        return;
    }
    const char *name = req->segs[2];
    if (!aw_hooks_match(req->app, AW_HK_RESOURCE, name, 0)) {
        aw_req_reply_error(req, 404, "no such resource");
        return;
    }
    json_t *value = NULL;
    if (!aw_hookreq_body(req, &value)) return;
    aw_hook_ctx *ctx = aw_hookreq_ctx(req, AW_HK_RESOURCE, name, 2, value);
    if (!ctx) {
        aw_req_reply_status(req, AW_ENOMEM, "resource");
        return;
    }
    aw_hooks_run(ctx, true, resource_done, req);
}
