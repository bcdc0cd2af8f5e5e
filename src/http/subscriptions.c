/* /subscriptions (protocol.md §9.2–9.8): publisher records, their diffs, listing both directions. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hooks.h"
#include "core/subscribe.h"
#include "http/endpoints.h"
#include "util/json.h"
#include "util/rand.h"

static json_t *sub_json(const aw_sub_rec *r)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:b}", "id", r->actor, "peerid", r->peerid, "subscriptionid",
                     r->subid, "target", r->target, "subtarget", r->subtarget, "resource", r->resource,
                     "granularity", r->granularity, "sequence", (json_int_t)r->sequence, "callback", r->callback);
}

static int collect_sub(const aw_sub_rec *r, void *ud)
{
    json_array_append_new(ud, sub_json(r));
    return AW_OK;
}

static json_t *parse_blob(const char *blob)
{
    json_t *v = json_loads(blob, JSON_DECODE_ANY, NULL);
    return v ? v : json_string(blob);
}

/* Callers of /subscriptions/{peer}/...: creator, trustee, or the peer named in the path (sdk: "self"). */
static bool authorize_peer_path(aw_req *req, const char *peer, bool gate_exempt)
{
    if (!aw_req_authenticate(req)) return false;
    if (req->who.kind == AW_WHO_PEER) {
        if (strcmp(req->who.peerid, peer) != 0) {
            aw_req_reply_error(req, 403, "Forbidden. Wrong peer id in request");
            return false;
        }
        if (!req->who.approved && !gate_exempt) {
            aw_req_reply_error(req, 403, "trust relationship not approved");
            return false;
        }
        return true;
    }
    return aw_req_authorize(req, "subscriptions", NULL, true);
}

static void list_all(aw_req *req)
{
    if (!aw_req_authorize(req, "subscriptions", NULL, false)) return;
    aw_sub_filter f = {aw_req_query(req, "peerid"), aw_req_query(req, "target"), aw_req_query(req, "subtarget"),
                       aw_req_query(req, "resource"), -1};
    json_t *data = json_array();
    int r = aw_app_store(req->app)->subs->each(aw_app_store(req->app), req->actor.id, &f, collect_sub, data);
    if (r != AW_OK) {
        json_decref(data);
        aw_req_reply_status(req, r, "subscriptions");
        return;
    }
    aw_req_reply_json(req, 200, json_pack("{s:s,s:o}", "id", req->actor.id, "data", data));
}

static void list_peer(aw_req *req, const char *peer)
{
    if (!authorize_peer_path(req, peer, true)) return;
    aw_sub_filter f = {peer, aw_req_query(req, "target"), aw_req_query(req, "subtarget"), aw_req_query(req, "resource"),
                       -1};
    json_t *data = json_array();
    int r = aw_app_store(req->app)->subs->each(aw_app_store(req->app), req->actor.id, &f, collect_sub, data);
    if (r != AW_OK) {
        json_decref(data);
        aw_req_reply_status(req, r, "subscriptions");
        return;
    }
    aw_req_reply_json(req, 200, json_pack("{s:s,s:s,s:o}", "id", req->actor.id, "peerid", peer, "data", data));
}

static bool valid_scope_name(const char *s) { return strlen(s) <= 255; }

/* The subscriber's accept_encoding (protocol.md §9.11): an array of codings in preference order (a single
 * string is taken too). Only codings this build can send are kept, comma-separated; anything else is
 * ignored, as the field is advisory. */
static void accepted_encodings(const json_t *v, char *out, size_t n)
{
    out[0] = '\0';
    json_t *one = json_is_string(v) ? json_pack("[O]", v) : NULL;
    const json_t *list = one ? one : v;
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e) {
        const char *c = json_string_value(e);
        if (!c || (strcasecmp(c, "gzip") != 0 && strcasecmp(c, "deflate") != 0)) continue;
        const char *name = strcasecmp(c, "gzip") == 0 ? "gzip" : "deflate";
        if (strstr(out, name)) continue;
        size_t len = strlen(out);
        snprintf(out + len, n - len, "%s%s", len ? "," : "", name);
    }
    json_decref(one);
}

static void create_inbound(aw_req *req, const char *peer)
{
    /* The ACL decides (clarifications #4): friend peers by default; then the caller must be {peer}. */
    if (!aw_req_authenticate(req)) return;
    if (req->who.kind == AW_WHO_PEER && !req->who.approved) {
        aw_req_reply_error(req, 403, "trust relationship not approved");
        return;
    }
    if (!aw_acl_allows(&req->who, "subscriptions/<id>", "POST", NULL)) {
        aw_req_reply_error(req, 403, "forbidden");
        return;
    }
    if (req->who.kind != AW_WHO_PEER || strcmp(req->who.peerid, peer) != 0) {
        aw_req_reply_error(req, 403, "Forbidden. Wrong peer id in request");
        return;
    }
    json_t *body;
    if (!aw_req_body_json(req, &body)) return;
    const char *target = aw_json_str(body, "target");
    const char *subtarget = aw_json_str(body, "subtarget");
    const char *resource = aw_json_str(body, "resource");
    const char *gran = aw_json_str(body, "granularity");
    if (!json_is_object(body) || !target || !*target) {
        json_decref(body);
        aw_req_reply_error(req, 400, "No target in request");
        return;
    }
    if (!gran || !*gran) gran = "none";
    if (strcmp(gran, "high") != 0 && strcmp(gran, "low") != 0 && strcmp(gran, "none") != 0) {
        json_decref(body);
        aw_req_reply_error(req, 400, "granularity must be high, low or none");
        return;
    }
    if (resource && *resource && !(subtarget && *subtarget)) {
        json_decref(body);
        aw_req_reply_error(req, 400, "a resource needs a subtarget");
        return;
    }
    if (!valid_scope_name(target) || (subtarget && !valid_scope_name(subtarget)) ||
        (resource && !valid_scope_name(resource))) {
        json_decref(body);
        aw_req_reply_error(req, 400, "scope names are limited to 255 bytes");
        return;
    }
    char accept[128];
    accepted_encodings(json_object_get(body, "accept_encoding"), accept, sizeof accept);
    char subid[33];
    aw_new_id(subid);
    aw_sub_rec rec = {.actor = req->actor.id,
                      .subid = subid,
                      .peerid = (char *)peer,
                      .target = (char *)target,
                      .subtarget = (char *)(subtarget ? subtarget : ""),
                      .resource = (char *)(resource ? resource : ""),
                      .granularity = (char *)gran,
                      .callback = false,
                      .accept_encoding = accept};
    int r = aw_app_store(req->app)->subs->create(aw_app_store(req->app), &rec);
    if (r != AW_OK) {
        json_decref(body);
        aw_req_reply_status(req, r, "subscription");
        return;
    }
    aw_buf b = AW_BUF_INIT;
    aw_buf_printf(&b, "%s/subscriptions/%s/%s", req->actor_url, peer, subid);
    char *loc = aw_buf_take(&b);
    aw_req_add_header(req, "Location", loc);
    free(loc);
    json_t *out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "subscriptionid", subid, "target", target, "subtarget",
                            rec.subtarget, "resource", rec.resource, "granularity", gran, "sequence", 0);
    json_decref(body);
    aw_req_reply_json(req, 201, out);
}

static int collect_diff(int64_t seq, const char *ts, const char *blob, void *ud)
{
    json_array_append_new(ud, json_pack("{s:I,s:s,s:o}", "sequence", (json_int_t)seq, "timestamp", ts, "data",
                                        parse_blob(blob)));
    return AW_OK;
}

/* Load {subid} and check it belongs to {peer}; answers 404 otherwise. */
static bool load_sub(aw_req *req, const char *peer, const char *subid, aw_sub_rec *out)
{
    int r = aw_app_store(req->app)->subs->get(aw_app_store(req->app), req->actor.id, subid, out);
    if (r == AW_OK && strcmp(out->peerid, peer) != 0) {
        aw_sub_rec_free(out);
        r = AW_ENOTFOUND;
    }
    if (r != AW_OK) {
        aw_req_reply_status(req, r, "subscription");
        return false;
    }
    return true;
}

static void on_ended(const aw_sub_outcome *o, void *ud)
{
    aw_req *req = ud;
    if (o->status == AW_OK || o->status == AW_ENOTFOUND) aw_req_reply_empty(req, 204);
    else aw_req_reply_status(req, o->status, "subscription");
}

static void one_sub(aw_req *req, const char *peer, const char *subid)
{
    aw_store *s = aw_app_store(req->app);
    if (!strcmp(req->method, "DELETE")) {
        if (!authorize_peer_path(req, peer, true)) return;
        if (req->who.kind != AW_WHO_PEER && !aw_req_query(req, "peer")) {
            /* The owner ends it: the peer is told (§9.8; Ref tells the peer on a creator DELETE). */
            int r = aw_sub_end_start(req->app, req->actor.id, peer, subid, on_ended, req);
            if (r == AW_ENOTRUST) aw_req_reply_empty(req, 204);
            else if (r != AW_OK && r != AW_ENOTFOUND) aw_req_reply_status(req, r, "subscription");
            else if (r == AW_ENOTFOUND) aw_req_reply_empty(req, 204);
            return;
        }
        aw_sub_rec rec;
        int r = s->subs->get(s, req->actor.id, subid, &rec);
        if (r == AW_OK) {
            bool mine = !strcmp(rec.peerid, peer);
            r = mine ? s->subs->del(s, req->actor.id, subid) : AW_OK;
            if (r == AW_OK && mine && !rec.callback) { /* an inbound subscription ended by its peer */
                json_t *j = sub_json(&rec);
                aw_hooks_fire_lifecycle(req->app, AW_EV_SUBSCRIPTION_DELETED, AW_ORIGIN_HTTP, req->actor.id, peer,
                                        NULL, subid, j, true);
                json_decref(j);
            }
            aw_sub_rec_free(&rec);
        }
        /* Ref answers 204 for unknown ids too (protocol.md §13 #27); a peer deleting twice is not an error. */
        if (r != AW_OK && r != AW_ENOTFOUND) aw_req_reply_status(req, r, "subscription");
        else aw_req_reply_empty(req, 204);
        return;
    }
    if (!authorize_peer_path(req, peer, false)) return;
    aw_sub_rec rec;
    if (!load_sub(req, peer, subid, &rec)) return;
    if (!strcmp(req->method, "GET")) {
        json_t *data = json_array();
        int r = s->subs->diff_each(s, req->actor.id, subid, 0, collect_diff, data);
        if (r != AW_OK) {
            json_decref(data);
            aw_req_reply_status(req, r, "diffs");
        } else {
            json_t *out = sub_json(&rec);
            json_object_del(out, "callback");
            json_object_set_new(out, "data", data);
            aw_req_reply_json(req, 200, out);
        }
    } else if (!strcmp(req->method, "PUT")) {
        json_int_t upto = -1;
        const char *q = aw_req_query(req, "sequence");
        if (req->body.len > 0) {
            json_t *body;
            if (!aw_req_body_json(req, &body)) {
                aw_sub_rec_free(&rec);
                return;
            }
            json_t *js = json_object_get(body, "sequence");
            if (json_is_integer(js)) upto = json_integer_value(js);
            json_decref(body);
        } else if (q) {
            char *end;
            long long v = strtoll(q, &end, 10);
            if (*q && !*end) upto = v;
        }
        if (upto < 0) aw_req_reply_error(req, 400, "sequence must be a non-negative number");
        else {
            int r = s->subs->diff_clear(s, req->actor.id, subid, (int64_t)upto);
            if (r != AW_OK) aw_req_reply_status(req, r, "diffs");
            else aw_req_reply_empty(req, 204);
        }
    } else {
        aw_req_add_header(req, "Allow", "GET, PUT, DELETE");
        aw_req_reply_error(req, 405, "method not allowed");
    }
    aw_sub_rec_free(&rec);
}

static void one_diff(aw_req *req, const char *peer, const char *subid, const char *seqs)
{
    if (strcmp(req->method, "GET") != 0) {
        aw_req_add_header(req, "Allow", "GET");
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    if (!authorize_peer_path(req, peer, false)) return;
    char *end;
    long long seq = strtoll(seqs, &end, 10);
    if (!*seqs || *end || seq <= 0) {
        aw_req_reply_error(req, 404, "no such diff");
        return;
    }
    aw_sub_rec rec;
    if (!load_sub(req, peer, subid, &rec)) return;
    char *ts = NULL, *blob = NULL;
    aw_store *s = aw_app_store(req->app);
    int r = s->subs->diff_get(s, req->actor.id, subid, (int64_t)seq, &ts, &blob);
    if (r != AW_OK) aw_req_reply_status(req, r, "diff");
    else {
        json_t *out = sub_json(&rec);
        json_object_del(out, "callback");
        json_object_del(out, "granularity");
        json_object_set_new(out, "timestamp", json_string(ts));
        json_object_set_new(out, "sequence", json_integer(seq));
        json_object_set_new(out, "data", parse_blob(blob));
        aw_req_reply_json(req, 200, out);
    }
    free(ts);
    free(blob);
    aw_sub_rec_free(&rec);
}

/* POST /subscriptions: make this actor subscribe to a peer (§9.3). Ref answers 204 + Location. */
static void on_subscribed(const aw_sub_outcome *o, void *ud)
{
    aw_req *req = ud;
    if (o->status == AW_OK) {
        aw_req_add_header(req, "Location", aw_json_str(o->payload, "url"));
        aw_req_reply_empty(req, 204);
    } else if (o->status == AW_ENOTRUST || o->status == AW_EPEER || o->status == AW_ENET ||
               o->status == AW_ETIMEDOUT || o->status == AW_EPROTO) {
        aw_req_reply_error(req, 408, "the peer did not create the subscription: %s", o->message);
    } else {
        aw_req_reply_status(req, o->status, "subscription");
    }
}

static void subscribe_outbound(aw_req *req)
{
    if (!aw_req_authorize(req, "subscriptions", NULL, false)) return;
    json_t *body = NULL;
    if (aw_req_is_json(req) || (req->body.len > 0 && !aw_req_is_form(req))) {
        if (!aw_req_body_json(req, &body)) return;
        if (!json_is_object(body)) {
            json_decref(body);
            aw_req_reply_error(req, 400, "the body must be a JSON object");
            return;
        }
    } else {
        body = req->form ? json_incref(req->form) : json_object();
    }
    const char *peer = aw_json_str(body, "peerid"), *target = aw_json_str(body, "target");
    if (!peer || !*peer || !target || !*target) {
        json_decref(body);
        aw_req_reply_error(req, 400, "peerid and target are required");
        return;
    }
    const char *gran = aw_json_str(body, "granularity");
    int r = aw_subscribe_start(req->app, req->actor.id, peer, target, aw_json_str(body, "subtarget"),
                               aw_json_str(body, "resource"), gran && *gran ? gran : "none", true, on_subscribed, req);
    json_decref(body);
    if (r == AW_ENOTRUST) aw_req_reply_error(req, 408, "no usable trust with that peer");
    else if (r == AW_EINVAL) aw_req_reply_error(req, 400, "invalid subscription request");
    else if (r != AW_OK) aw_req_reply_status(req, r, "subscription");
}

void aw_ep_subscriptions(aw_req *req)
{
    const char *peer = req->nseg > 2 ? req->segs[2] : NULL;
    const char *subid = req->nseg > 3 ? req->segs[3] : NULL;
    if (req->nseg > 5) {
        aw_req_reply_error(req, 404, "not found");
    } else if (!peer) {
        if (!strcmp(req->method, "GET")) list_all(req);
        else if (!strcmp(req->method, "POST")) subscribe_outbound(req);
        else aw_req_reply_error(req, 405, "method not allowed");
    } else if (!subid) {
        if (!strcmp(req->method, "GET")) list_peer(req, peer);
        else if (!strcmp(req->method, "POST")) create_inbound(req, peer);
        else aw_req_reply_error(req, 405, "method not allowed");
    } else if (req->nseg == 4) {
        one_sub(req, peer, subid);
    } else {
        one_diff(req, peer, subid, req->segs[4]);
    }
}
