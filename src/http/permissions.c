/* GET /permissions/{peerid} (protocol.md §8.2, tag permissionquery): a peer asks what it was granted.
 * Only the peer itself may ask (the spec; the reference checks only the caller's role, §13 #9). */
#include <string.h>

#include "core/perms.h"
#include "http/endpoints.h"

void aw_ep_permissions(aw_req *req)
{
    if (req->nseg != 3) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (strcmp(req->method, "GET") != 0) {
        aw_req_add_header(req, "Allow", "GET");
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    const char *peerid = req->segs[2];
    if (!aw_req_authorize(req, "permissions/<id>", peerid, false)) return;
    if (req->who.kind != AW_WHO_PEER || strcmp(req->who.peerid, peerid) != 0) {
        aw_req_reply_error(req, 403, "only the peer itself may query its permissions");
        return;
    }
    aw_trust_rec tr;
    if (!aw_req_trust(req, peerid, NULL, &tr)) return;
    json_t *eff = NULL;
    bool custom = false;
    int r = aw_perms_effective_ex(req->app, req->actor.id, peerid, tr.relationship, &eff, &custom);
    if (r != AW_OK) {
        aw_trust_rec_free(&tr);
        aw_req_reply_status(req, r, "permissions");
        return;
    }
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:o}", "actor_id", req->actor.id, "peer_id", peerid, "trust_type",
                            tr.relationship, "source", custom ? "custom_override" : "trust_type_default",
                            "permissions", eff);
    aw_trust_rec_free(&tr);
    aw_req_reply_json(req, 200, out);
}
