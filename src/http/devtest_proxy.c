/* /devtest/proxy (protocol.md §11): a "twin" actor on this server that trusts us as friend, and property
 * calls proxied to it over that trust. The twin is created through our own factory with creator
 * "trustee", reached by a §7.5 handshake, and approved on its side with Basic trustee:<passphrase>.
 * Its id, URL and passphrase live in the attribute _devtest/twin. Every step is a peer call on the loop. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/trust.h"
#include "http/endpoints.h"
#include "util/json.h"
#include "util/str.h"

typedef struct px {
    aw_req *req;
    char *twin_id, *twin_url, *twin_pass;
    char *secret;      /* bearer of our trust with the twin */
    char *path;        /* proxied path below the twin root, e.g. "/properties/x" */
    json_t *create_props;
} px;

static void px_free(void *p)
{
    px *x = p;
    if (!x) return;
    free(x->twin_id);
    free(x->twin_url);
    free(x->twin_pass);
    free(x->secret);
    free(x->path);
    json_decref(x->create_props);
    free(x);
}

static void fail(px *x, const char *why)
{
    AW_WARN(&x->req->app->log, "devtest proxy %s: %s", x->req->actor.id, why);
    aw_req_reply_error(x->req, 404, "twin not available: %s", why);
}

static char *twin_path_url(px *x, const char *path)
{
    aw_buf b = AW_BUF_INIT;
    aw_buf_printf(&b, "%s%s", x->twin_url, path);
    return aw_buf_take(&b);
}

/* Pass the twin's answer through: status, and its body when there is one. */
static void relay(const aw_result *res, void *ud)
{
    px *x = ud;
    int code = aw_result_http_status(res);
    if (!code) {
        aw_req_reply_status(x->req, aw_result_status(res), "twin");
        return;
    }
    json_t *j = aw_result_json(res);
    size_t len = 0;
    const char *raw = aw_result_body(res, &len);
    if (j) aw_req_reply_json(x->req, code, json_incref(j));
    else if (raw && len) aw_req_reply_raw(x->req, code, "text/plain", raw, len);
    else aw_req_reply_empty(x->req, code);
}

/* ------------------------------------------------------------------ the proxied calls */

static void create_meta(const aw_result *res, void *ud)
{
    px *x = ud;
    json_t *j = aw_result_json(res);
    if (aw_result_status(res) != AW_OK || !j) {
        relay(res, ud);
        return;
    }
    aw_req_add_header(x->req, "Location", x->twin_url);
    aw_req_reply_json(x->req, 200, json_incref(j));
}

static void start_simple(px *x, const char *method, const char *path, json_t *json, const char *raw, size_t raw_len,
                         const char *ctype, aw_done_cb cb)
{
    char *url = twin_path_url(x, path);
    aw_peer_request pr = {0};
    pr.method = method;
    pr.url = url;
    pr.bearer = x->secret;
    pr.json = json;
    pr.body = raw;
    pr.body_len = raw_len;
    pr.content_type = ctype;
    int r = url ? aw_peer_request_async(x->req->app, &pr, NULL, cb, x, NULL) : AW_ENOMEM;
    free(url);
    if (r != AW_OK) aw_req_reply_status(x->req, r, "twin");
}

static void create_props_done(const aw_result *res, void *ud)
{
    px *x = ud;
    if (aw_result_status(res) != AW_OK) {
        relay(res, ud);
        return;
    }
    start_simple(x, "GET", "/meta", NULL, NULL, 0, NULL, create_meta);
}

static void proxied(px *x)
{
    aw_req *req = x->req;
    const char *what = req->nseg > 3 ? req->segs[3] : "";
    if (!strcmp(what, "create") && req->nseg == 4 && !strcmp(req->method, "POST")) {
        if (x->create_props && json_object_size(x->create_props) > 0)
            start_simple(x, "POST", "/properties", x->create_props, NULL, 0, NULL, create_props_done);
        else start_simple(x, "GET", "/meta", NULL, NULL, 0, NULL, create_meta);
        return;
    }
    /* /devtest/proxy/properties[/name...] */
    if (!strcmp(req->method, "PUT")) {
        const char *ct = aw_req_header(req, "Content-Type");
        start_simple(x, "PUT", x->path, NULL, req->body.data ? req->body.data : "", req->body.len,
                     ct ? ct : "text/plain", relay);
    } else {
        start_simple(x, req->method, x->path, NULL, NULL, 0, NULL, relay);
    }
}

/* ------------------------------------------------------------------ obtaining the twin */

static void use_trust_secret(px *x)
{
    aw_trust_rec t;
    aw_store *s = aw_app_store(x->req->app);
    if (s->trusts->get(s, x->req->actor.id, x->twin_id, &t) != AW_OK) {
        fail(x, "no trust with the twin");
        return;
    }
    x->secret = t.secret;
    t.secret = NULL;
    aw_trust_rec_free(&t);
    proxied(x);
}

static void twin_approved(const aw_result *res, void *ud)
{
    px *x = ud;
    if (aw_result_status(res) != AW_OK) {
        fail(x, "approval on the twin failed");
        return;
    }
    use_trust_secret(x);
}

static void twin_trusted(const aw_trust_outcome *o, void *ud)
{
    px *x = ud;
    if (o->status != AW_OK) {
        fail(x, o->message);
        return;
    }
    /* Approve on the twin's side as its trustee (§7.10). */
    aw_buf b = AW_BUF_INIT;
    aw_buf_printf(&b, "%s/trust/friend/%s", x->twin_url, x->req->actor.id);
    char *url = aw_buf_take(&b);
    json_t *body = json_pack("{s:b}", "approved", 1);
    aw_peer_request pr = {0};
    pr.method = "PUT";
    pr.url = url;
    pr.basic_user = "trustee";
    pr.basic_pass = x->twin_pass;
    pr.json = body;
    int r = (url && body) ? aw_peer_request_async(x->req->app, &pr, NULL, twin_approved, x, NULL) : AW_ENOMEM;
    free(url);
    json_decref(body);
    if (r != AW_OK) fail(x, aw_strerror(r));
}

static void twin_created(const aw_result *res, void *ud)
{
    px *x = ud;
    aw_req *req = x->req;
    json_t *j = aw_result_json(res);
    const char *id = aw_json_str(j, "id"), *pass = aw_json_str(j, "passphrase");
    if (aw_result_status(res) != AW_OK || !id || !pass) {
        fail(x, "the factory did not create the twin");
        return;
    }
    x->twin_id = strdup(id);
    x->twin_pass = strdup(pass);
    x->twin_url = aw_app_actor_url(req->app, id);
    json_t *rec = json_pack("{s:s,s:s,s:s}", "id", id, "url", x->twin_url ? x->twin_url : "", "passphrase", pass);
    char *txt = rec ? aw_json_dump(rec) : NULL;
    json_decref(rec);
    int r = txt ? aw_app_store(req->app)->attrs->set(aw_app_store(req->app), req->actor.id, AW_DEVTEST_TWIN_BUCKET,
                                             AW_DEVTEST_TWIN_NAME, txt, NULL, 0)
                : AW_ENOMEM;
    free(txt);
    if (r != AW_OK || !x->twin_id || !x->twin_pass || !x->twin_url) {
        fail(x, "cannot record the twin");
        return;
    }
    r = aw_trust_initiate_start(req->app, req->actor.id, x->twin_url, "friend", "devtest twin", twin_trusted, x);
    if (r != AW_OK) fail(x, aw_strerror(r));
}

static void obtain_twin(px *x)
{
    aw_req *req = x->req;
    aw_store *s = aw_app_store(req->app);
    char *json = NULL;
    if (s->attrs->get(s, req->actor.id, AW_DEVTEST_TWIN_BUCKET, AW_DEVTEST_TWIN_NAME, &json, NULL) == AW_OK) {
        json_t *t = json_loads(json, 0, NULL);
        free(json);
        const char *id = aw_json_str(t, "id"), *url = aw_json_str(t, "url"), *pass = aw_json_str(t, "passphrase");
        aw_trust_rec tr;
        if (id && url && pass && s->trusts->get(s, req->actor.id, id, &tr) == AW_OK) {
            bool usable = tr.approved && tr.peer_approved;
            aw_trust_rec_free(&tr);
            if (usable) {
                x->twin_id = strdup(id);
                x->twin_url = strdup(url);
                x->twin_pass = strdup(pass);
                json_decref(t);
                use_trust_secret(x);
                return;
            }
        }
        json_decref(t);
    }
    /* Create a new twin through our own factory. */
    aw_buf b = AW_BUF_INIT;
    aw_buf_printf(&b, "%s/", req->app->cfg.base_url);
    char *url = aw_buf_take(&b);
    json_t *body = json_pack("{s:s,s:s}", "creator", "trustee", "trustee_root", req->actor_url);
    aw_peer_request pr = {0};
    pr.method = "POST";
    pr.url = url;
    pr.json = body;
    pr.idempotency = AW_IDEMP_NEVER;
    int r = (url && body) ? aw_peer_request_async(req->app, &pr, NULL, twin_created, x, NULL) : AW_ENOMEM;
    free(url);
    json_decref(body);
    if (r != AW_OK) fail(x, aw_strerror(r));
}

void aw_ep_devtest_proxy(aw_req *req)
{
    /* devtest.c has authenticated the caller already; §11 adds no role check. */
    const char *what = req->nseg > 3 ? req->segs[3] : "";
    bool create = !strcmp(what, "create") && req->nseg == 4 && !strcmp(req->method, "POST");
    bool props = !strcmp(what, "properties") &&
                 ((!strcmp(req->method, "GET") && req->nseg == 4) || (!strcmp(req->method, "PUT") && req->nseg >= 5) ||
                  (!strcmp(req->method, "DELETE") && req->nseg == 4));
    if (!create && !props) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    px *x = calloc(1, sizeof *x);
    if (!x) {
        aw_req_reply_status(req, AW_ENOMEM, "proxy");
        return;
    }
    x->req = req;
    req->handler_state = x;
    req->handler_free = px_free;
    if (create && req->body.len > 0) {
        json_t *b;
        if (!aw_req_body_json(req, &b)) return;
        if (json_is_object(b)) x->create_props = b;
        else json_decref(b);
    }
    if (props) {
        aw_buf p = AW_BUF_INIT;
        for (size_t i = 3; i < req->nseg; i++) {
            aw_buf_puts(&p, "/");
            for (const unsigned char *c = (const unsigned char *)req->segs[i]; *c; c++) {
                if (isalnum(*c) || strchr("-._~", *c)) aw_buf_append(&p, c, 1);
                else aw_buf_printf(&p, "%%%02X", *c); /* segments arrive decoded: encode again */
            }
        }
        x->path = aw_buf_take(&p);
        if (!x->path) {
            aw_req_reply_status(req, AW_ENOMEM, "proxy");
            return;
        }
    }
    obtain_twin(x);
}
