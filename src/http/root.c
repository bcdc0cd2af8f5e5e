/* The actor root: GET {root} and DELETE {root}, protocol.md §2.2–2.3. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "core/actor.h"
#include "http/endpoints.h"

static void redirect_to(aw_req *req, const char *suffix_after_base, bool actor_relative)
{
    aw_buf b = AW_BUF_INIT;
    if (actor_relative) aw_buf_printf(&b, "%s%s", req->actor_url, suffix_after_base);
    else aw_buf_printf(&b, "%s%s", req->app->cfg.base_url, suffix_after_base);
    char *loc = aw_buf_take(&b);
    aw_req_redirect(req, loc ? loc : "/");
    free(loc);
}

static void root_get(aw_req *req)
{
    const char *accept = aw_req_header(req, MHD_HTTP_HEADER_ACCEPT);
    if (accept && strstr(accept, "text/html")) {
        /* Browsers (§2.2): redirect to the login page or the actor's web UI. */
        if (!aw_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION)) {
            redirect_to(req, "/login", false);
            return;
        }
        const char *authz = aw_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION);
        aw_auth_result r;
        int st = AW_OK;
        if (aw_istarts(authz, "Basic ")) {
            char *pass = NULL;
            char *user = MHD_basic_auth_get_username_password(req->conn, &pass);
            r = aw_auth_basic(&req->actor, user, pass, &req->who);
            if (user) MHD_free(user);
            if (pass) MHD_free(pass);
        } else if (aw_istarts(authz, "Bearer ")) {
            r = aw_auth_bearer(aw_app_store(req->app), &req->actor, authz + 7, &req->who, &st);
        } else {
            r = AW_AUTH_BAD;
        }
        if (r == AW_AUTH_FAILED) {
            aw_req_reply_status(req, st, "credentials");
            return;
        }
        if (r != AW_AUTH_OK) {
            redirect_to(req, "/login", false);
            return;
        }
        if (req->who.kind == AW_WHO_CREATOR || req->who.kind == AW_WHO_TRUSTEE) {
            redirect_to(req, "/www", true);
            return;
        }
        if (!aw_acl_allows(&req->who, "/", "GET", NULL) || !req->who.approved) {
            aw_req_reply_error(req, 403, "forbidden");
            return;
        }
        redirect_to(req, "/www", true);
        return;
    }
    if (!aw_req_authorize(req, "/", NULL, false)) return;
    json_t *out = json_pack("{s:s,s:s,s:s}", "id", req->actor.id, "creator", req->actor.creator, "passphrase",
                            req->actor.passphrase);
    if (req->actor.trustee_root) json_object_set_new(out, "trustee_root", json_string(req->actor.trustee_root));
    aw_req_reply_json(req, 200, out);
}

static void on_deleted(aw_req *req, int status)
{
    if (status != AW_OK) aw_req_reply_status(req, status, "actor");
    else aw_req_reply_empty(req, 204);
}

void aw_ep_root(aw_req *req)
{
    if (!strcmp(req->method, "GET")) {
        root_get(req);
    } else if (!strcmp(req->method, "DELETE")) {
        if (!aw_req_authorize(req, "/", NULL, false)) return;
        aw_actor_delete_for_request(req, on_deleted);
    } else {
        aw_req_add_header(req, "Allow", "GET, DELETE");
        aw_req_reply_error(req, 405, "method not allowed");
    }
}
