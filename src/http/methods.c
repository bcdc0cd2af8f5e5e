/* /methods (protocol.md §10): registered method hooks with their metadata, plain JSON and JSON-RPC 2.0
 * calls. Anonymous callers get 403 (not 401); peers need their type's `methods` permission (§5.3). */
#include <stdlib.h>
#include <string.h>

#include "http/endpoints.h"
#include "http/hookreq.h"

typedef struct rpc_call {
    aw_req *req;
    bool rpc;
    json_t *id; /* JSON-RPC id (owned) */
} rpc_call;

static json_t *rpc_error(json_t *id, int code, const char *msg)
{
    return json_pack("{s:s,s:{s:i,s:s},s:O}", "jsonrpc", "2.0", "error", "code", code, "message", msg, "id",
                     id ? id : json_null());
}

static void call_done(aw_hook_ctx *ctx, int status, json_t *value, void *ud)
{
    rpc_call *c = ud;
    aw_req *req = c->req;
    if (c->rpc) {
        json_t *out;
        if (status == AW_HOOKS_UNHANDLED) out = rpc_error(c->id, -32601, "Method not found");
        else if (status >= 400 || status == AW_HOOKS_WOULDBLOCK)
            out = rpc_error(c->id, -32603, status == 504 ? "Internal error: timed out" : "Internal error");
        else
            out = json_pack("{s:s,s:O,s:O}", "jsonrpc", "2.0", "result", value ? value : json_null(), "id",
                            c->id ? c->id : json_null());
        aw_req_reply_json(req, 200, out);
    } else if (!strcmp(req->method, "DELETE")) {
        aw_hookreq_reply(req, status >= 400 || status == AW_HOOKS_WOULDBLOCK ? status : 204, /* Ref: 204 */
                         status >= 400 ? value : NULL, 204);
    } else if (status == AW_HOOKS_UNHANDLED) {
        if (!strcmp(req->method, "GET")) aw_req_reply_error(req, 404, "no such method");
        else aw_req_reply_error(req, 400, "no handler for this method");
    } else {
        aw_hookreq_reply(req, status, value, 200);
    }
    json_decref(c->id);
    free(c);
}

void aw_ep_methods(aw_req *req)
{
    const char *name = aw_hookreq_rpc_gate(req, AW_HK_METHOD, "methods");
    if (!name) return;
    const char *m = req->method;
    rpc_call *c = calloc(1, sizeof *c);
    if (!c) {
        aw_req_reply_status(req, AW_ENOMEM, "method");
        return;
    }
    c->req = req;
    json_t *value = NULL;
    bool have = aw_hooks_find(req->app, AW_HK_METHOD, name) != NULL;
    if (!strcmp(m, "POST") || !strcmp(m, "PUT")) {
        json_t *body;
        if (!aw_hookreq_body(req, &body)) {
            free(c);
            return;
        }
        json_t *ver = json_object_get(body, "jsonrpc");
        if (json_is_object(body) && ver) {
            c->rpc = true;
            c->id = json_incref(json_object_get(body, "id"));
            const char *mname = json_string_value(json_object_get(body, "method"));
            if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 || !mname || strcmp(mname, name)) {
                json_decref(body);
                aw_req_reply_json(req, 200, rpc_error(c->id, -32600, "Invalid Request"));
                json_decref(c->id);
                free(c);
                return;
            }
            value = json_incref(json_object_get(body, "params"));
            json_decref(body);
            if (!have) {
                json_decref(value);
                call_done(NULL, AW_HOOKS_UNHANDLED, NULL, c);
                return;
            }
        } else {
            value = body;
        }
    } else if (strcmp(m, "GET") != 0 && strcmp(m, "DELETE") != 0) {
        free(c);
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    if (!have) {
        json_decref(value);
        free(c);
        if (!strcmp(m, "GET")) aw_req_reply_error(req, 404, "no such method");
        else if (!strcmp(m, "DELETE")) aw_req_reply_error(req, 403, "no handler for this method");
        else aw_req_reply_error(req, 400, "no handler for this method");
        return;
    }
    aw_hook_ctx *ctx = aw_hookreq_ctx(req, AW_HK_METHOD, name, 2, value);
    if (!ctx) {
        json_decref(c->id);
        free(c);
        aw_req_reply_status(req, AW_ENOMEM, "method");
        return;
    }
    aw_hooks_run(ctx, true, call_done, c);
}
