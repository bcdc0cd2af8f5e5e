/* /actions (protocol.md §10, Ref behaviour): GET lists metadata, GET /actions/{name} reads a status
 * through the hook, POST/PUT run the action (cfg.action_success_status, default 200 as the Ref; 400
 * without a handler or with a body that is not JSON), DELETE 204 / 403. Anonymous callers get 403; peers
 * need their type's `actions` permission. */
#include <string.h>

#include "http/endpoints.h"
#include "http/hookreq.h"

static void action_done(aw_hook_ctx *ctx, int status, json_t *value, void *ud)
{
    aw_req *req = ud;
    const char *m = req->method;
    if (!strcmp(m, "DELETE")) {
        aw_hookreq_reply(req, status >= 400 || status == AW_HOOKS_WOULDBLOCK ? status : 204, /* Ref: 204 */
                         status >= 400 ? value : NULL, 204);
    } else if (status == AW_HOOKS_UNHANDLED) {
        if (!strcmp(m, "GET")) aw_req_reply_error(req, 404, "no such action");
        else aw_req_reply_error(req, 400, "no handler for this action");
    } else if (!strcmp(m, "GET")) {
        aw_hookreq_reply(req, status, value, 200);
    } else {
        int ok = req->app->cfg.action_success_status;
        aw_hookreq_reply(req, status, value, ok >= 200 && ok < 300 ? ok : 200);
    }
}

void aw_ep_actions(aw_req *req)
{
    const char *name = aw_hookreq_rpc_gate(req, AW_HK_ACTION, "actions");
    if (!name) return;
    const char *m = req->method;
    bool run = !strcmp(m, "POST") || !strcmp(m, "PUT");
    if (!run && strcmp(m, "GET") != 0 && strcmp(m, "DELETE") != 0) {
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    json_t *value = NULL;
    if (run && !aw_hookreq_body(req, &value)) return;
    if (!aw_hooks_find(req->app, AW_HK_ACTION, name)) {
        json_decref(value);
        if (!strcmp(m, "GET")) aw_req_reply_error(req, 404, "no such action");
        else if (!strcmp(m, "DELETE")) aw_req_reply_error(req, 403, "no handler for this action");
        else aw_req_reply_error(req, 400, "no handler for this action");
        return;
    }
    aw_hook_ctx *ctx = aw_hookreq_ctx(req, AW_HK_ACTION, name, 2, value);
    if (!ctx) {
        aw_req_reply_status(req, AW_ENOMEM, "action");
        return;
    }
    aw_hooks_run(ctx, true, action_done, req);
}
