/* /trust (protocol.md §7). The work is in core/trust.c; handlers that wait on a peer return without
 * answering and reply from the operation's callback on the loop (the server keeps the connection
 * suspended meanwhile), so a slow peer stalls nothing else. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/perms.h"
#include "core/trust.h"
#include "http/endpoints.h"
#include "util/json.h"
#include "util/str.h"

/* ------------------------------------------------------------------ helpers */

static bool is(const aw_req *req, const char *m) { return !strcmp(req->method, m); }

static char *record_location(aw_req *req, const char *rel, const char *peerid)
{
    aw_buf b = AW_BUF_INIT;
    aw_buf_printf(&b, "%s/trust/%s/%s", req->actor_url, rel, peerid);
    return aw_buf_take(&b);
}

/* A JSON object body, or (form / query) parameters folded into one. Answers 400 and returns NULL when
 * a JSON body does not parse or is not an object. */
static json_t *body_object(aw_req *req, const char *const *form_keys)
{
    if (req->body.len > 0 && !aw_req_is_form(req)) {
        json_t *b;
        if (!aw_req_body_json(req, &b)) return NULL;
        if (!json_is_object(b)) {
            json_decref(b);
            aw_req_reply_error(req, 400, "the body must be a JSON object");
            return NULL;
        }
        return b;
    }
    json_t *o = json_object();
    for (size_t i = 0; o && form_keys[i]; i++) {
        const char *v = aw_req_param(req, form_keys[i]);
        if (v) json_object_set_new(o, form_keys[i], json_string(v));
    }
    if (!o) aw_req_reply_status(req, AW_ENOMEM, "body");
    return o;
}

/* Reply 404 through the operation's not-found outcome or the usual status mapping. */
static void reply_outcome_error(aw_req *req, const aw_trust_outcome *o, const char *what)
{
    if (o->status == AW_ESHUTDOWN) aw_req_reply_error(req, 503, "shutting down");
    else aw_req_reply_status(req, o->status, what);
}

/* ------------------------------------------------------------------ GET /trust, POST /trust */

static void list_trusts(aw_req *req)
{
    aw_trust_filter f = {aw_req_query(req, "relationship"), aw_req_query(req, "peerid"), aw_req_query(req, "type")};
    json_t *out;
    int r = aw_trust_list_json(req->app, req->actor.id, &f, &out);
    if (r != AW_OK) aw_req_reply_status(req, r, "trusts");
    else aw_req_reply_json(req, 200, out);
}

static void initiated(const aw_trust_outcome *o, void *ud)
{
    aw_req *req = ud;
    if (o->status != AW_OK || !o->record) {
        if (o->status == AW_EINVAL) aw_req_reply_error(req, 400, "%s", o->message);
        else if (o->status == AW_ESTORAGE || o->status == AW_ESTORAGE_TRANSIENT || o->status == AW_ENOMEM ||
                 o->status == AW_ESHUTDOWN)
            reply_outcome_error(req, o, "trust");
        else aw_req_reply_error(req, 408, "%s", o->message); /* Ref: 408 for every peer failure (§7.4) */
        return;
    }
    char *loc = record_location(req, aw_json_str(o->record, "relationship"), aw_json_str(o->record, "peerid"));
    aw_req_add_header(req, "Location", loc);
    free(loc);
    aw_req_reply_json(req, 201, json_incref(o->record));
}

static void initiate(aw_req *req)
{
    static const char *const keys[] = {"url", "relationship", "desc", NULL};
    json_t *b = body_object(req, keys);
    if (!b) return;
    const char *url = aw_json_str(b, "url");
    const char *rel = aw_json_str(b, "relationship");
    const char *desc = aw_json_str(b, "desc");
    if (!url || !*url) {
        json_decref(b);
        aw_req_reply_error(req, 400, "Missing peer URL");
        return;
    }
    int r = aw_trust_initiate_start(req->app, req->actor.id, url, rel, desc, initiated, req);
    json_decref(b);
    if (r == AW_EINVAL) aw_req_reply_error(req, 400, "invalid peer URL or relationship");
    else if (r != AW_OK) aw_req_reply_status(req, r, "trust");
}

/* ------------------------------------------------------------------ /trust/trustee (§7.10) */

static void trustee(aw_req *req)
{
    if (is(req, "GET")) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (!is(req, "PUT") && !is(req, "DELETE")) {
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    if (!aw_req_authorize(req, "trust", NULL, false)) return;
    aw_store *s = aw_app_store(req->app);
    int r;
    if (is(req, "DELETE")) {
        r = s->actors->update(s, req->actor.id, NULL, "");
    } else {
        static const char *const keys[] = {"trustee_root", "creator", NULL};
        json_t *b = body_object(req, keys);
        if (!b) return;
        json_t *tr = json_object_get(b, "trustee_root"), *cr = json_object_get(b, "creator");
        if ((tr && !json_is_string(tr)) || (cr && (!json_is_string(cr) || !*json_string_value(cr)))) {
            json_decref(b);
            aw_req_reply_error(req, 400, "trustee_root and creator must be strings");
            return;
        }
        r = (tr || cr) ? s->actors->update(s, req->actor.id, cr ? json_string_value(cr) : NULL,
                                           tr ? json_string_value(tr) : NULL)
                       : AW_OK;
        json_decref(b);
    }
    if (r != AW_OK) aw_req_reply_status(req, r, "actor");
    else aw_req_reply_empty(req, 204);
}

/* ------------------------------------------------------------------ POST /trust/{rel} (§7.5) */

static void accepted(const aw_trust_outcome *o, void *ud)
{
    aw_req *req = ud;
    if (o->status == AW_ECONFLICT || o->status == AW_EDENIED) {
        aw_req_reply_error(req, 403, "%s", o->message);
        return;
    }
    if (o->status != AW_OK || !o->record) {
        reply_outcome_error(req, o, "trust");
        return;
    }
    char *loc = record_location(req, aw_json_str(o->record, "relationship"), aw_json_str(o->record, "peerid"));
    aw_req_add_header(req, "Location", loc);
    free(loc);
    bool approved = json_is_true(json_object_get(o->record, "approved"));
    aw_req_reply_json(req, approved ? 201 : 202, json_incref(o->record));
}

static void inbound(aw_req *req, const char *rel)
{
    json_t *b;
    if (!aw_req_body_json(req, &b)) return;
    const char *baseuri = aw_json_str(b, "baseuri"), *id = aw_json_str(b, "id");
    if (!json_is_object(b) || !baseuri || !*baseuri || !id || !*id) {
        json_decref(b);
        aw_req_reply_error(req, 400, "Missing mandatory attributes");
        return;
    }
    int r = aw_trust_accept_start(req->app, req->actor.id, rel, b, accepted, req);
    json_decref(b);
    if (r == AW_EINVAL) aw_req_reply_error(req, 400, "invalid trust request (baseuri or id)");
    else if (r != AW_OK) aw_req_reply_status(req, r, "trust");
}

/* ------------------------------------------------------------------ /trust/{rel}/{peer} */

/* The record for {peer} whose relationship is {rel}; answers 404 (or a storage error) otherwise. */
static bool load_record(aw_req *req, const char *rel, const char *peer, aw_trust_rec *t)
{
    aw_store *s = aw_app_store(req->app);
    int r = s->trusts->get(s, req->actor.id, peer, t);
    if (r == AW_OK && (!t->relationship || strcmp(t->relationship, rel) != 0)) {
        aw_trust_rec_free(t);
        r = AW_ENOTFOUND;
    }
    if (r != AW_OK) {
        aw_req_reply_status(req, r, "trust");
        return false;
    }
    return true;
}

static bool caller_is(const aw_req *req, const char *peer)
{
    return req->who.kind == AW_WHO_PEER && !strcmp(req->who.peerid, peer);
}

static void get_record(aw_req *req, const char *rel, const char *peer)
{
    if (!aw_req_authorize(req, "trust/<type>/<id>", peer, true)) return;
    aw_trust_rec t;
    if (!load_record(req, rel, peer, &t)) return;
    bool self = caller_is(req, peer);
    if (self && !t.approved) {
        aw_trust_rec_free(&t);
        aw_req_reply_error(req, 403, "Trust relationship not approved");
        return;
    }
    json_t *o = aw_trust_rec_json(&t);
    if (!o) {
        aw_trust_rec_free(&t);
        aw_req_reply_status(req, AW_ENOMEM, "trust");
        return;
    }
    /* The verification response (§7.5 step 3): both spellings. */
    if (self) json_object_set_new(o, "verificationToken", json_string(t.verification_token ? t.verification_token : ""));
    const char *pq = aw_req_query(req, "permissions");
    if (pq && !strcasecmp(pq, "true")) {
        json_t *pv = NULL;
        int r = aw_perms_override_get(req->app, req->actor.id, peer, &pv);
        if (r != AW_OK && r != AW_ENOTFOUND) {
            json_decref(o);
            aw_trust_rec_free(&t);
            aw_req_reply_status(req, r, "permissions");
            return;
        }
        json_object_set_new(o, "permissions", pv ? pv : json_null());
    }
    int code = t.approved ? 200 : 202;
    aw_trust_rec_free(&t);
    aw_req_reply_json(req, code, o);
}

static void modified(const aw_trust_outcome *o, void *ud)
{
    aw_req *req = ud;
    if (o->status == AW_OK) aw_req_reply_empty(req, 204); /* a failed notice is logged, not an error (§7.6) */
    else if (o->status == AW_EINVAL) aw_req_reply_error(req, 400, "update failed");
    else reply_outcome_error(req, o, "trust");
}

static void put_record(aw_req *req, const char *rel, const char *peer)
{
    if (!aw_req_authorize(req, "trust/<type>/<id>", NULL, false)) return;
    static const char *const keys[] = {"approved", "baseuri", "desc", NULL};
    json_t *b = body_object(req, keys);
    if (!b) return;
    int r = aw_trust_modify_start(req->app, req->actor.id, rel, peer, b, modified, req);
    json_decref(b);
    if (r == AW_EINVAL) aw_req_reply_error(req, 400, "invalid change (un-approving is not defined; delete the trust)");
    else if (r != AW_OK) aw_req_reply_status(req, r, "trust");
}

static void post_record(aw_req *req, const char *rel, const char *peer)
{
    if (!aw_req_authorize(req, "trust/<type>/<id>", peer, true)) return;
    /* §5.2 rule 14 ("anybody may POST trust/<type>") matches this path by prefix: a peer may only post
     * about its own trust (admin peers excepted, as on every trust path). */
    if (req->who.kind == AW_WHO_PEER && strcmp(req->who.peerid, peer) != 0 && strcmp(req->who.relationship, "admin")) {
        aw_req_reply_error(req, 403, "forbidden: not that peer");
        return;
    }
    json_t *b;
    if (!aw_req_body_json(req, &b)) return;
    bool approved = json_is_object(b) && aw_json_bool(b, "approved", false);
    json_decref(b);
    aw_trust_rec t;
    if (!load_record(req, rel, peer, &t)) return;
    aw_trust_rec_free(&t);
    if (!approved) {
        if (req->who.kind == AW_WHO_PEER) aw_req_reply_error(req, 403, "only {\"approved\": true} is accepted");
        else aw_req_reply_error(req, 400, "only {\"approved\": true} is accepted");
        return;
    }
    int r = aw_trust_set_peer_approved(req->app, req->actor.id, peer);
    if (r != AW_OK) aw_req_reply_status(req, r, "trust");
    else aw_req_reply_empty(req, 204);
}

static void deleted(const aw_trust_outcome *o, void *ud)
{
    aw_req *req = ud;
    /* A peer that could not be told does not block revocation: 204 (clarifications #3; logged in core). */
    if (o->status == AW_OK || o->status == AW_ENOTFOUND) aw_req_reply_empty(req, o->status == AW_OK ? 204 : 404);
    else reply_outcome_error(req, o, "trust");
}

static void delete_record(aw_req *req, const char *rel, const char *peer)
{
    if (!strcmp(peer, req->actor.id)) {
        aw_req_reply_error(req, 400, "cannot delete a trust with oneself");
        return;
    }
    aw_trust_rec t;
    if (!load_record(req, rel, peer, &t)) return; /* 404 before authentication (§7.8) */
    aw_trust_rec_free(&t);
    if (!aw_req_header(req, "Authorization")) {
        aw_req_reply_error(req, 403, "forbidden");
        return;
    }
    if (!aw_req_authorize(req, "trust/<type>/<id>", peer, true)) return;
    const char *pq = aw_req_query(req, "peer");
    bool local_only = caller_is(req, peer) || (pq && !strcasecmp(pq, "true"));
    int r = aw_trust_delete_start(req->app, req->actor.id, rel, peer, !local_only, deleted, req);
    if (r != AW_OK) aw_req_reply_status(req, r, "trust");
}

/* ------------------------------------------------------------------ dispatch */

void aw_ep_trust(aw_req *req)
{
    if (req->nseg == 2) {
        if (!is(req, "GET") && !is(req, "POST")) {
            aw_req_reply_error(req, 405, "method not allowed");
            return;
        }
        if (!aw_req_authorize(req, "trust", NULL, false)) return;
        if (is(req, "GET")) list_trusts(req);
        else initiate(req);
        return;
    }
    const char *rel = req->segs[2];
    if (req->nseg == 3) {
        if (!strcmp(rel, "trustee")) trustee(req);
        else if (is(req, "POST")) inbound(req, rel);
        else if (is(req, "GET")) aw_req_reply_error(req, 404, "not found"); /* Ref: always 404 (13 #20) */
        else aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    const char *peer = req->segs[3];
    if (req->nseg >= 5) {
        if (!strcmp(req->segs[4], "permissions")) aw_ep_trust_permissions(req);
        else aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (is(req, "GET")) get_record(req, rel, peer);
    else if (is(req, "PUT")) put_record(req, rel, peer);
    else if (is(req, "POST")) post_record(req, rel, peer);
    else if (is(req, "DELETE")) delete_record(req, rel, peer);
    else aw_req_reply_error(req, 405, "method not allowed");
}
