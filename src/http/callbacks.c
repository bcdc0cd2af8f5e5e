/* /callbacks (protocol.md §9.9, §10): subscription callbacks from publishers, and their revocation.
 * Existence is checked before credentials (Ref order): an unknown (publisher, subscription) is 404
 * whatever the credentials. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/subscriber.h"
#include "http/endpoints.h"
#include "http/hookreq.h"
#include "store/group.h"
#include "util/str.h"

static void reply(aw_req *req, int http_status, const char *message)
{
    if (http_status == 204) aw_req_reply_empty(req, 204);
    else aw_req_reply_error(req, http_status, "%s", message ? message : "not processed");
}

/* An answer held back until the group commit that holds the callback's data (store/group.h). */
typedef struct held_reply {
    aw_req *req;
    int http_status;
    char message[120];
} held_reply;

static void on_group_end(void *ud, int commit_status)
{
    held_reply *h = ud;
    if (commit_status != AW_OK) reply(h->req, 503, "storage failed; send the callback again");
    else reply(h->req, h->http_status, h->message[0] ? h->message : NULL);
    aw_req_resume_if_needed(h->req);
    free(h);
}

static void on_processed(void *ud, int http_status, const char *message)
{
    aw_req *req = ud;
    if (!aw_group_active(req->app)) {
        reply(req, http_status, message); /* no group: the data is committed already */
        return;
    }
    held_reply *h = malloc(sizeof *h);
    if (!h) {
        int r = aw_group_flush(req->app); /* out of memory: commit now, then answer */
        reply(req, r == AW_OK ? http_status : 503, r == AW_OK ? message : "storage failed");
        return;
    }
    h->req = req;
    /* Still inside the handler: the group ends within this server turn, so the connection need not be
     * suspended (server.c, drive). */
    if (!req->suspended) req->held = true;
    h->http_status = http_status;
    aw_strlcpy(h->message, message ? message : "", sizeof h->message);
    aw_group_defer(req->app, on_group_end, h);
}

/* The caller must be the publisher named in the path, with its trust secret (401 without credentials,
 * 403 for anyone else or an unapproved trust). */
static bool authenticate_publisher(aw_req *req, const char *pub)
{
    if (!aw_req_authenticate(req)) return false;
    if (req->who.kind != AW_WHO_PEER || strcmp(req->who.peerid, pub) != 0) {
        aw_req_reply_error(req, 403, "forbidden: not the publisher of this subscription");
        return false;
    }
    if (!req->who.approved) {
        aw_req_reply_error(req, 403, "trust relationship not approved");
        return false;
    }
    return true;
}

static void subscription_callback(aw_req *req, const char *pub, const char *subid)
{
    aw_store *s = aw_app_store(req->app);
    aw_sub_rec sub;
    int r = s->subs->get(s, req->actor.id, subid, &sub);
    bool ours = r == AW_OK && !strcmp(sub.peerid, pub);
    bool mirror = ours && sub.callback;
    /* In a group commit the record stays current until processing (same transaction): hand it over. */
    bool keep = mirror && aw_group_active(req->app);
    if (r == AW_OK && !keep) aw_sub_rec_free(&sub);
    if (r != AW_OK && r != AW_ENOTFOUND) {
        aw_req_reply_status(req, r, "subscription");
        return;
    }
    if (!strcmp(req->method, "DELETE")) {
        /* The publisher ends a subscription (or, Ref style, the subscriber ends one: accept both, §13 #31). */
        if (!authenticate_publisher(req, pub)) return;
        if (ours) {
            r = s->subs->del(s, req->actor.id, subid);
            if (r == AW_OK) aw_subscriber_forget_publisher_if_unused(req->app, req->actor.id, pub);
        }
        if (r != AW_OK && r != AW_ENOTFOUND) aw_req_reply_status(req, r, "subscription");
        else aw_req_reply_empty(req, 204);
        return;
    }
    if (!mirror) {
        aw_req_reply_error(req, 404, "no such subscription");
        return;
    }
    json_t *body = NULL;
    if (strcmp(req->method, "POST") != 0 && strcmp(req->method, "PUT") != 0) {
        aw_req_add_header(req, "Allow", "POST, DELETE");
        aw_req_reply_error(req, 405, "method not allowed");
    } else if (authenticate_publisher(req, pub) && aw_req_decode_body(req) && /* callbackcompression, §9.11 */
               aw_req_body_json(req, &body)) {
        if (!json_is_object(body)) aw_req_reply_error(req, 400, "the callback body must be a JSON object");
        else aw_subscriber_receive(req->app, req->actor.id, subid, body, keep ? &sub : NULL, on_processed, req);
        json_decref(body);
    }
    if (keep) aw_sub_rec_free(&sub); /* no-op when receive took it over */
}

void aw_ep_callbacks(aw_req *req)
{
    const char *kind = req->nseg > 2 ? req->segs[2] : "";
    if (!strcmp(kind, "subscriptions")) {
        if (req->nseg != 5) {
            aw_req_reply_error(req, 404, "no such subscription");
            return;
        }
        subscription_callback(req, req->segs[3], req->segs[4]);
        return;
    }
    /* Application callbacks (/callbacks/<name>) go to hooks; without a hook the answer is 403 (Ref).
     * DELETE needs credentials (anonymous 401). */
    if (!strcmp(req->method, "DELETE") && !aw_req_authenticate(req)) return;
    if (!*kind || !strcmp(kind, "permissions")) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (!aw_req_decode_body(req)) return;
    aw_hookreq_callback(req, kind); /* application hooks; 403 "no handler" without one */
}
