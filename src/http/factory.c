/* The factory: GET {factory} (HTML form) and POST {factory} (create an actor), protocol.md §2.1. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/hooks.h"
#include "http/endpoints.h"
#include "util/json.h"
#include "util/rand.h"

static void html_page(aw_req *req, int status, const char *title, const char *body_html)
{
    aw_buf b = AW_BUF_INIT;
    aw_buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    aw_buf_html(&b, title);
    aw_buf_puts(&b, "</title></head><body>\n<h1>");
    aw_buf_html(&b, title);
    aw_buf_puts(&b, "</h1>\n");
    aw_buf_puts(&b, body_html);
    aw_buf_puts(&b, "\n</body></html>\n");
    char *s = aw_buf_take(&b);
    if (!s) {
        aw_req_reply_status(req, AW_ENOMEM, "page");
        return;
    }
    aw_req_reply_raw(req, status, "text/html; charset=utf-8", s, strlen(s));
    free(s);
}

static void factory_get(aw_req *req)
{
    aw_buf b = AW_BUF_INIT;
    aw_buf_puts(&b, "<p>Mini-application <code>");
    aw_buf_html(&b, req->app->cfg.type_urn);
    aw_buf_puts(&b, "</code>. Create an actor:</p>\n<form method=\"POST\" action=\"");
    aw_buf_html(&b, req->app->cfg.base_url);
    aw_buf_puts(&b, "/\">\n<label>Creator <input name=\"creator\" type=\"text\"></label>\n"
                    "<input type=\"submit\" value=\"Create\">\n</form>");
    char *body = aw_buf_take(&b);
    html_page(req, 200, "ActingWeb", body ? body : "");
    free(body);
}

/* Ref: trim the creator and lowercase it when it contains '@'. */
static char *normalise_creator(const char *in)
{
    while (*in && isspace((unsigned char)*in)) in++;
    size_t n = strlen(in);
    while (n && isspace((unsigned char)in[n - 1])) n--;
    char *c = strndup(in, n);
    if (c && strchr(c, '@'))
        for (char *p = c; *p; p++) *p = (char)tolower((unsigned char)*p);
    return c;
}

/* Insert a new actor with a fresh id (retried on the astronomically unlikely id collision). */
static int create_actor(aw_app *app, const char *creator, const char *passphrase, const char *trustee_root,
                        aw_actor_rec *out)
{
    memset(out, 0, sizeof *out);
    char pass[41];
    if (!passphrase || !*passphrase) {
        if (aw_new_token(pass) != 0) return AW_ESTORAGE;
        passphrase = pass;
    }
    out->creator = strdup(creator);
    out->passphrase = strdup(passphrase);
    out->trustee_root = trustee_root && *trustee_root ? strdup(trustee_root) : NULL;
    if (!out->creator || !out->passphrase) {
        aw_actor_rec_free(out);
        return AW_ENOMEM;
    }
    int r = AW_ECONFLICT;
    for (int i = 0; i < 3 && r == AW_ECONFLICT; i++) {
        if (aw_new_id(out->id) != 0) break;
        r = aw_app_store(app)->actors->create(aw_app_store(app), out);
    }
    if (r != AW_OK) aw_actor_rec_free(out);
    else aw_hooks_fire_lifecycle(app, AW_EV_ACTOR_CREATED, AW_ORIGIN_HTTP, out->id, NULL, NULL, NULL, NULL, false);
    return r;
}

static void factory_post_json(aw_req *req)
{
    json_t *body = NULL;
    if (req->body.len > 0) {
        if (!aw_req_body_json(req, &body)) return;
    } else {
        body = json_object();
    }
    if (!json_is_object(body)) {
        json_decref(body);
        aw_req_reply_error(req, 400, "the body must be a JSON object");
        return;
    }
    json_t *jc = json_object_get(body, "creator"), *jp = json_object_get(body, "passphrase"),
           *jt = json_object_get(body, "trustee_root");
    if ((jc && !json_is_string(jc) && !json_is_null(jc)) || (jp && !json_is_string(jp) && !json_is_null(jp)) ||
        (jt && !json_is_string(jt) && !json_is_null(jt))) {
        json_decref(body);
        aw_req_reply_error(req, 400, "creator, passphrase and trustee_root must be strings");
        return;
    }
    const char *creator_in = json_is_string(jc) && *json_string_value(jc) ? json_string_value(jc) : "creator";
    char *creator = normalise_creator(creator_in);
    if (!creator || !*creator || strlen(creator) > 255) {
        free(creator);
        json_decref(body);
        aw_req_reply_error(req, 400, "invalid creator");
        return;
    }
    const char *pass = json_is_string(jp) ? json_string_value(jp) : NULL;
    const char *troot = json_is_string(jt) ? json_string_value(jt) : NULL;
    if ((pass && strlen(pass) > 1024) || (troot && strlen(troot) > 2048)) {
        free(creator);
        json_decref(body);
        aw_req_reply_error(req, 400, "passphrase or trustee_root too long");
        return;
    }
    aw_app *app = req->app;
    if (app->cfg.unique_creator) {
        aw_actor_rec ex;
        int r = aw_app_store(app)->actors->get_by_creator(aw_app_store(app), creator, &ex);
        if (r == AW_OK) {
            aw_actor_rec_free(&ex);
            free(creator);
            json_decref(body);
            aw_req_reply_error(req, 403, "Creator already exists");
            return;
        }
        if (r != AW_ENOTFOUND) {
            free(creator);
            json_decref(body);
            aw_req_reply_status(req, r, "actor");
            return;
        }
    }
    aw_actor_rec a;
    int r = create_actor(app, creator, pass, troot, &a);
    free(creator);
    json_decref(body);
    if (r != AW_OK) {
        aw_req_reply_status(req, r, "actor");
        return;
    }
    char *url = aw_app_actor_url(app, a.id);
    json_t *out = json_pack("{s:s,s:s,s:s}", "id", a.id, "creator", a.creator, "passphrase", a.passphrase);
    if (a.trustee_root) json_object_set_new(out, "trustee_root", json_string(a.trustee_root));
    aw_req_add_header(req, "Location", url);
    aw_req_reply_json(req, 201, out);
    free(url);
    aw_actor_rec_free(&a);
}

static void factory_post_form(aw_req *req)
{
    const char *c = req->form ? aw_json_str(req->form, "creator") : NULL;
    char *creator = normalise_creator(c && *c ? c : "creator");
    if (!creator || !*creator || strlen(creator) > 255) {
        free(creator);
        html_page(req, 400, "Not created", "<p>Invalid creator.</p>");
        return;
    }
    aw_app *app = req->app;
    aw_actor_rec a;
    int r = aw_app_store(app)->actors->get_by_creator(aw_app_store(app), creator, &a);
    if (r == AW_OK && c && *c) {
        /* Ref: a known creator is sent to its actor's web UI. */
        char *url = aw_app_actor_url(app, a.id);
        aw_buf b = AW_BUF_INIT;
        aw_buf_printf(&b, "%s/www", url ? url : "");
        char *loc = aw_buf_take(&b);
        aw_req_redirect(req, loc ? loc : "/");
        free(loc);
        free(url);
        aw_actor_rec_free(&a);
        free(creator);
        return;
    }
    if (r == AW_OK) aw_actor_rec_free(&a);
    r = create_actor(app, creator, NULL, NULL, &a);
    free(creator);
    if (r != AW_OK) {
        html_page(req, r == AW_ESTORAGE_TRANSIENT ? 503 : 400, "Not created", "<p>The actor was not created.</p>");
        return;
    }
    char *url = aw_app_actor_url(app, a.id);
    aw_buf b = AW_BUF_INIT;
    aw_buf_puts(&b, "<p>Actor id: <code>");
    aw_buf_html(&b, a.id);
    aw_buf_puts(&b, "</code></p>\n<p>Creator: <code>");
    aw_buf_html(&b, a.creator);
    aw_buf_puts(&b, "</code></p>\n<p>Passphrase: <code>");
    aw_buf_html(&b, a.passphrase);
    aw_buf_puts(&b, "</code></p>\n<p><a href=\"");
    aw_buf_html(&b, url ? url : "");
    aw_buf_puts(&b, "\">");
    aw_buf_html(&b, url ? url : "");
    aw_buf_puts(&b, "</a></p>");
    char *page = aw_buf_take(&b);
    html_page(req, 200, "Actor created", page ? page : "");
    free(page);
    free(url);
    aw_actor_rec_free(&a);
}

void aw_ep_factory(aw_req *req)
{
    if (!strcmp(req->method, "GET")) {
        factory_get(req);
        return;
    }
    if (req->nseg != 0 || strcmp(req->method, "POST") != 0) {
        aw_req_add_header(req, "Allow", "GET, POST");
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    if (aw_req_wants_json(req)) {
        if (req->body.len > 0 && !aw_req_is_json(req)) {
            aw_req_reply_error(req, 415, "the body must be application/json");
            return;
        }
        factory_post_json(req);
    } else if (aw_req_is_form(req) || req->body.len == 0) {
        factory_post_form(req);
    } else {
        aw_req_reply_error(req, 415, "send application/json or a form");
    }
}
