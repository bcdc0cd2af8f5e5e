/* Request accessors, the reply functions and the authentication/authorisation gate. */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/request.h"
#include "util/json.h"
#include "util/zip.h"

const char *aw_req_header(aw_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *aw_req_query(aw_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *aw_req_param(aw_req *req, const char *name)
{
    const char *v = req->form ? aw_json_str(req->form, name) : NULL;
    return v ? v : aw_req_query(req, name);
}

static bool ctype_is(aw_req *req, const char *type)
{
    const char *ct = aw_req_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct) return false;
    while (*ct == ' ') ct++;
    size_t n = strlen(type);
    return !strncasecmp(ct, type, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

bool aw_req_is_json(aw_req *req) { return ctype_is(req, "application/json"); }
bool aw_req_is_form(aw_req *req) { return ctype_is(req, "application/x-www-form-urlencoded"); }

bool aw_req_wants_json(aw_req *req)
{
    if (aw_req_is_json(req)) return true;
    const char *acc = aw_req_header(req, MHD_HTTP_HEADER_ACCEPT);
    return acc && strcasestr(acc, "application/json") != NULL;
}

bool aw_req_body_json(aw_req *req, json_t **out)
{
    char why[200];
    *out = NULL;
    if (req->body.len == 0) {
        aw_req_reply_error(req, 400, "a JSON body is required");
        return false;
    }
    aw_json_err e = aw_json_parse(req->body.data, req->body.len, req->app->cfg.max_depth, out, why);
    if (e == AW_JSON_OK) return true;
    if (e == AW_JSON_NOMEM) aw_req_reply_error(req, 503, "out of memory");
    else aw_req_reply_error(req, 400, "%s", why);
    return false;
}

bool aw_req_decode_body(aw_req *req)
{
    const char *ce = aw_req_header(req, "Content-Encoding");
    aw_zip_kind kind = aw_zip_kind_of(ce);
    if (kind == AW_ZIP_IDENTITY) return true;
    if (kind == AW_ZIP_UNKNOWN) {
        aw_req_add_header(req, "Accept-Encoding", "gzip, deflate");
        aw_req_reply_error(req, 415, "unsupported Content-Encoding (gzip and deflate are accepted)");
        return false;
    }
    if (req->body.len == 0) return true;
    aw_buf out = AW_BUF_INIT;
    int r = aw_unzip(kind, req->body.data, req->body.len, req->app->cfg.max_body, &out);
    if (r != AW_OK) {
        aw_buf_free(&out);
        if (r == AW_EBUSY) aw_req_reply_error(req, 413, "decoded request body larger than %zu bytes",
                                              req->app->cfg.max_body);
        else if (r == AW_ENOMEM) aw_req_reply_error(req, 503, "out of memory");
        else aw_req_reply_error(req, 400, "the body is not valid %s data", kind == AW_ZIP_GZIP ? "gzip" : "deflate");
        return false;
    }
    aw_buf_free(&req->body);
    req->body = out;
    return true;
}

void aw_req_add_header(aw_req *req, const char *name, const char *value)
{
    if (req->nhdr >= sizeof req->hdr_names / sizeof req->hdr_names[0] || !value) return;
    req->hdr_names[req->nhdr] = strdup(name);
    req->hdr_values[req->nhdr] = strdup(value);
    req->nhdr++;
}

static void finish(aw_req *req, int status, struct MHD_Response *resp, const char *ctype)
{
    if (req->replied) {
        if (resp) MHD_destroy_response(resp);
        AW_DEBUG(&req->app->log, "req %s: second reply ignored", req->request_id);
        return;
    }
    if (!resp) resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        /* Out of memory: nothing more we can build; let MHD close the connection. */
        req->replied = true;
        req->status = 500;
        if (!req->offloaded) aw_req_resume_if_needed(req);
        return;
    }
    req->replied = true;
    req->status = status;
    if (ctype) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "X-Request-ID", req->request_id);
    for (size_t i = 0; i < req->nhdr; i++)
        if (req->hdr_names[i] && req->hdr_values[i])
            MHD_add_response_header(resp, req->hdr_names[i], req->hdr_values[i]);
    req->resp = resp;
    if (!req->offloaded) aw_req_resume_if_needed(req); /* else the job's completion resumes, on the loop */
}

void aw_req_reply_raw(aw_req *req, int status, const char *content_type, const char *data, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    finish(req, status, r, content_type);
}

void aw_req_reply_json(aw_req *req, int status, json_t *body)
{
    if (!body) {
        finish(req, status, NULL, NULL);
        return;
    }
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (!s) {
        finish(req, 500, NULL, NULL);
        return;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!r) free(s);
    finish(req, status, r, "application/json");
}

void aw_req_reply_empty(aw_req *req, int status) { finish(req, status, NULL, NULL); }

void aw_req_reply_error(aw_req *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:{s:i,s:s}}", "error", "code", status, "message", msg);
    aw_req_reply_json(req, status, err);
}

void aw_req_reply_status(aw_req *req, int st, const char *what)
{
    switch (st) {
    case AW_ENOTFOUND: aw_req_reply_error(req, 404, "%s not found", what); break;
    case AW_EINVAL: aw_req_reply_error(req, 400, "invalid %s", what); break;
    case AW_ECONFLICT: aw_req_reply_error(req, 409, "%s conflicts with an existing item", what); break;
    case AW_EDENIED: aw_req_reply_error(req, 403, "forbidden"); break;
    case AW_ESTORAGE_TRANSIENT:
    case AW_EBUSY:
        aw_req_add_header(req, "Retry-After", "1");
        aw_req_reply_error(req, 503, "temporarily unavailable");
        break;
    case AW_ENOMEM: aw_req_reply_error(req, 503, "out of memory"); break;
    case AW_ETIMEDOUT: aw_req_reply_error(req, 504, "peer did not answer in time"); break;
    case AW_ENET:
    case AW_EPEER:
    case AW_EPROTO:
    case AW_ENOTRUST: aw_req_reply_error(req, 502, "peer failure: %s", aw_strerror(st)); break;
    case AW_ESHUTDOWN: aw_req_reply_error(req, 503, "shutting down"); break;
    default: aw_req_reply_error(req, 500, "storage failure"); break;
    }
}

void aw_req_redirect(aw_req *req, const char *location)
{
    aw_req_add_header(req, "Location", location);
    aw_req_reply_empty(req, 302);
}

bool aw_req_trust(aw_req *req, const char *peer, const char *rel, aw_trust_rec *out)
{
    aw_store *s = aw_app_store(req->app);
    int r = s->trusts->get(s, req->actor.id, peer, out);
    if (r == AW_OK && rel && strcmp(out->relationship, rel) != 0) {
        aw_trust_rec_free(out);
        r = AW_ENOTFOUND;
    }
    if (r == AW_ENOTFOUND) aw_req_reply_error(req, 404, "no such trust relationship");
    else if (r != AW_OK) aw_req_reply_status(req, r, "trust");
    return r == AW_OK;
}

/* ------------------------------------------------------------------ authentication gate */

bool aw_req_authenticate(aw_req *req)
{
    if (req->who.kind != AW_WHO_NONE) return true;
    const char *authz = aw_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!authz) {
        char realm[300];
        snprintf(realm, sizeof realm, "Basic realm=\"%s\"", req->app->host_header);
        aw_req_add_header(req, "WWW-Authenticate", realm);
        aw_req_reply_raw(req, 401, "text/plain", "Authentication required", 23);
        return false;
    }
    aw_auth_result r;
    int st = AW_OK;
    if (aw_istarts(authz, "Bearer ")) {
        const char *tok = authz + 7;
        while (*tok == ' ') tok++;
        r = aw_auth_bearer(aw_app_store(req->app), &req->actor, tok, &req->who, &st);
    } else if (aw_istarts(authz, "Basic ")) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(req->conn, &pass);
        r = aw_auth_basic(&req->actor, user, pass, &req->who);
        if (user) MHD_free(user);
        if (pass) MHD_free(pass);
    } else {
        r = AW_AUTH_BAD;
    }
    if (r == AW_AUTH_OK) return true;
    if (r == AW_AUTH_FAILED) aw_req_reply_status(req, st, "credentials");
    else aw_req_reply_error(req, 403, "forbidden: wrong credentials");
    return false;
}

bool aw_req_authorize(aw_req *req, const char *acl_path, const char *owner_peer, bool gate_exempt)
{
    if (!aw_req_authenticate(req)) return false;
    /* §4.3 approval gate first: an unapproved peer is refused everywhere but the exceptions. */
    if (req->who.kind == AW_WHO_PEER && !req->who.approved && !gate_exempt) {
        aw_req_reply_error(req, 403, "trust relationship not approved");
        return false;
    }
    if (!aw_acl_allows(&req->who, acl_path, req->method, owner_peer)) {
        aw_req_reply_error(req, 403, "forbidden");
        return false;
    }
    return true;
}
