/* /trust/{rel}/{peer}/permissions (protocol.md §8.1, tag trustpermissions): per-trust permission
 * overrides. Dispatched from trust.c; segs = [actor, "trust", rel, peer, "permissions"]. */
#include <string.h>

#include "core/perms.h"
#include "http/endpoints.h"

/* The override document as §8.1 shows it: ids, the six categories ({} when unset), metadata. */
static json_t *override_doc(aw_req *req, const aw_trust_rec *tr, const json_t *stored)
{
    json_t *out = json_pack("{s:s,s:s,s:s}", "actor_id", req->actor.id, "peer_id", tr->peerid, "trust_type",
                            tr->relationship);
    for (size_t c = 0; c < AW_PERM_NCATEGORIES; c++) {
        const char *cat = aw_perm_categories[c];
        json_t *v = stored ? json_object_get(stored, cat) : NULL;
        json_object_set_new(out, cat, v ? json_deep_copy(v) : json_object());
    }
    return out;
}

/* A stored override with its metadata and the §8.1 source fields. */
static json_t *custom_doc(aw_req *req, const aw_trust_rec *tr, const json_t *stored)
{
    json_t *out = override_doc(req, tr, stored);
    const char *meta[] = {"created_by", "updated_at", "notes"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(stored, meta[i]);
        json_object_set_new(out, meta[i], v ? json_deep_copy(v) : json_string(""));
    }
    json_object_set_new(out, "is_custom", json_true());
    json_object_set_new(out, "source", json_string("custom_override"));
    return out;
}

static const char *creator_label(const aw_req *req)
{
    switch (req->who.kind) {
    case AW_WHO_CREATOR: return "creator";
    case AW_WHO_TRUSTEE: return "trustee";
    case AW_WHO_PEER: return req->who.peerid;
    default: return "creator";
    }
}

static void perms_get(aw_req *req, const aw_trust_rec *tr)
{
    json_t *stored = NULL;
    int r = aw_perms_override_get(req->app, req->actor.id, tr->peerid, &stored);
    if (r == AW_OK) {
        json_t *out = custom_doc(req, tr, stored);
        json_decref(stored);
        aw_req_reply_json(req, 200, out);
        return;
    }
    if (r != AW_ENOTFOUND) {
        aw_req_reply_status(req, r, "permission override");
        return;
    }
    const json_t *defaults = aw_trust_type_permissions(req->app, tr->relationship);
    if (!defaults) {
        aw_req_reply_error(req, 404, "unknown trust type");
        return;
    }
    json_t *out = override_doc(req, tr, defaults);
    json_object_set_new(out, "is_custom", json_false());
    json_object_set_new(out, "source", json_string("trust_type_default"));
    aw_req_reply_json(req, 200, out);
}

static void perms_put(aw_req *req, const aw_trust_rec *tr)
{
    json_t *body = NULL;
    if (!aw_req_body_json(req, &body)) return;
    const char *why = NULL;
    json_t *upd = aw_perms_normalize_update(body, &why);
    json_decref(body);
    if (!upd) {
        aw_req_reply_error(req, 400, "%s", why ? why : "bad permissions");
        return;
    }
    bool created = false;
    int r = aw_perms_override_apply(req->app, req->actor.id, tr->peerid, tr->relationship, upd, creator_label(req),
                                    &created);
    json_decref(upd);
    if (r == AW_ENOTFOUND) {
        aw_req_reply_error(req, 404, "no such trust relationship");
        return;
    }
    if (r != AW_OK) {
        aw_req_reply_status(req, r, "permission override");
        return;
    }
    /* Answer with the stored override, as GET would show it. */
    json_t *stored = NULL;
    r = aw_perms_override_get(req->app, req->actor.id, tr->peerid, &stored);
    if (r != AW_OK) {
        aw_req_reply_empty(req, created ? 201 : 200);
        return;
    }
    json_t *out = custom_doc(req, tr, stored);
    json_decref(stored);
    aw_req_reply_json(req, created ? 201 : 200, out);
}

static void perms_delete(aw_req *req, const aw_trust_rec *tr)
{
    aw_store *s = aw_app_store(req->app);
    int r = s->trusts->perm_del(s, req->actor.id, tr->peerid);
    if (r == AW_ENOTFOUND) {
        aw_req_reply_error(req, 404, "no permission override");
        return;
    }
    if (r != AW_OK) {
        aw_req_reply_status(req, r, "permission override");
        return;
    }
    aw_req_reply_empty(req, 204);
}

void aw_ep_trust_permissions(aw_req *req)
{
    if (req->nseg != 5 || strcmp(req->segs[4], "permissions") != 0) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    const char *m = req->method;
    if (strcmp(m, "GET") != 0 && strcmp(m, "PUT") != 0 && strcmp(m, "DELETE") != 0) {
        aw_req_add_header(req, "Allow", "GET, PUT, DELETE");
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    if (!aw_req_authorize(req, "trust", NULL, false)) return;
    const char *rel = req->segs[2], *peer = req->segs[3];
    aw_trust_rec tr;
    if (!aw_req_trust(req, peer, rel, &tr)) return;
    if (!strcmp(m, "GET")) {
        perms_get(req, &tr);
    } else if (!strcmp(m, "PUT")) {
        perms_put(req, &tr);
    } else {
        perms_delete(req, &tr);
    }
    aw_trust_rec_free(&tr);
}
