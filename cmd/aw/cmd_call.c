/* aw — application calls (protocol.md §10): POST /methods/NAME (plain JSON or JSON-RPC 2.0) and
 * POST /actions/NAME. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw.h"

static void print_result(cli *c, const aw_result *res, json_t *v)
{
    if (c->json || !v) out_body(res);
    else if (json_is_string(v)) printf("%s\n", json_string_value(v));
    else out_json(v);
}

static int call(cli *c, const char *kind)
{
    json_t *params = NULL;
    if (c->nargs > 1) {
        json_error_t err;
        params = json_loads(c->args[1], JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
        if (!params) return cli_usage_error("JSON argument does not parse: %s", err.text);
    } else {
        params = json_object();
    }
    const char *base = cli_base_url(c);
    const char *segs[] = {kind, c->args[0]};
    char *url = base ? cli_url(base, segs, 2) : NULL;
    if (!url) {
        json_decref(params);
        return EX_USAGE;
    }
    json_t *body = params;
    if (c->rpc) body = json_pack("{s:s, s:s, s:O, s:i}", "jsonrpc", "2.0", "method", c->args[0], "params", params, "id", 1);
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "POST", url, body, NULL, AUTH_CRED, &res);
    if (ex == EX_OK) {
        json_t *j = aw_result_json(res);
        json_t *rpc_err = c->rpc && json_is_object(j) ? json_object_get(j, "error") : NULL;
        if (rpc_err) {
            /* JSON-RPC errors come with HTTP 200: the server refused the call. */
            if (c->json) out_body(res);
            const char *m = json_string_value(json_object_get(rpc_err, "message"));
            fprintf(stderr, "aw: POST: %s (JSON-RPC error %lld)\n", m ? m : "error",
                    (long long)json_integer_value(json_object_get(rpc_err, "code")));
            ex = EX_REFUSED;
        } else if (c->rpc && json_is_object(j) && json_object_get(j, "result")) {
            print_result(c, res, json_object_get(j, "result"));
        } else {
            print_result(c, res, j);
        }
    }
    aw_result_unref(res);
    cli_stop(c);
    if (body != params) json_decref(body);
    json_decref(params);
    free(url);
    return ex;
}

int cmd_call_method(cli *c) { return call(c, "methods"); }
int cmd_call_action(cli *c) { return call(c, "actions"); }
