/* aw_peer_meta_get(_async): GET {url}/meta, a JSON object with non-empty "id" and "type". */
#include <stdlib.h>
#include <string.h>

#include "peer/internal.h"
#include "util/json.h"

static void meta_xform(aw_op *op, aw_result *res)
{
    if (res->status != AW_OK) return;
    json_t *doc = aw_result_json(res);
    const char *id = json_is_object(doc) ? aw_json_str(doc, "id") : NULL;
    const char *type = json_is_object(doc) ? aw_json_str(doc, "type") : NULL;
    if (!doc) {
        res->status = AW_EPROTO;
        aw_result_setmsg(res, "GET %s: meta is not JSON", op->url);
    } else if (!id || !*id || !type || !*type) {
        res->status = AW_EPROTO;
        aw_result_setmsg(res, "GET %s: meta has no id or type", op->url);
    } else {
        res->payload = json_incref(doc);
    }
}

int aw_peer_meta_get_async(aw_app *app, const char *url, const aw_call_opts *opts, aw_done_cb cb, void *ud,
                           aw_op **op_out)
{
    if (op_out) *op_out = NULL;
    if (!app || !url || !cb) return AW_EINVAL;
    size_t n = strlen(url);
    char *meta = malloc(n + sizeof "/meta");
    if (!meta) return AW_ENOMEM;
    memcpy(meta, url, n);
    memcpy(meta + n, "/meta", sizeof "/meta");
    /* The actor root is checked; {url}/meta, with the same origin, is parsed once for both. */
    char *origin = NULL;
    CURLU *cu = NULL;
    int r = aw_peer_url_origin_checked(app, url, meta, &origin, &cu);
    if (r != AW_OK) {
        free(meta);
        return r;
    }
    aw_peer_request req = {.method = "GET", .url = meta};
    aw_op *op;
    r = aw_req_prepare_at(app, &req, opts, cb, ud, origin, cu, &op);
    free(meta);
    if (r != AW_OK) return r;
    op->xform = meta_xform;
    return aw_req_submit(op, op_out);
}

typedef struct {
    const char *url;
    const aw_call_opts *opts;
} meta_ctx;

static int meta_start(aw_app *app, void *ctx, aw_done_cb cb, void *ud)
{
    meta_ctx *m = ctx;
    return aw_peer_meta_get_async(app, m->url, m->opts, cb, ud, NULL);
}

int aw_peer_meta_get(aw_app *app, const char *url, const aw_call_opts *opts, aw_result **out)
{
    meta_ctx m = {url, opts};
    return aw_sync_call(app, meta_start, &m, out, "aw_peer_meta_get");
}
