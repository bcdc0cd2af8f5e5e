/* /devtest test hooks (protocol.md §11): ping and internal attributes. Off unless --devtest. */
#include <stdlib.h>
#include <string.h>

#include <actingweb/subscriptions.h>

#include "http/endpoints.h"
#include "util/json.h"
#include "util/time.h"

typedef struct attr_collect {
    json_t *out;
    bool by_bucket;
} attr_collect;

static json_t *attr_doc(const char *json, const char *ts)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    if (!v) v = json_string(json);
    return json_pack("{s:o,s:o}", "data", v, "timestamp", ts ? json_string(ts) : json_null());
}

static int collect_attr(const char *bucket, const char *name, const char *json, const char *ts, void *ud)
{
    attr_collect *c = ud;
    json_t *target = c->out;
    if (c->by_bucket) {
        target = json_object_get(c->out, bucket);
        if (!target) {
            target = json_object();
            json_object_set_new(c->out, bucket, target);
        }
    }
    json_object_set_new(target, name, attr_doc(json, ts));
    return 0;
}

static void attr_get(aw_req *req, const char *bucket, const char *name)
{
    aw_store *s = aw_app_store(req->app);
    if (name) {
        char *json = NULL, *ts = NULL;
        int r = s->attrs->get(s, req->actor.id, bucket, name, &json, &ts);
        if (r != AW_OK) {
            aw_req_reply_status(req, r, "attribute");
            return;
        }
        aw_req_reply_json(req, 200, attr_doc(json, ts));
        free(json);
        free(ts);
        return;
    }
    attr_collect c = {json_object(), bucket == NULL};
    int r = s->attrs->each(s, req->actor.id, bucket, collect_attr, &c);
    if (r != AW_OK) {
        json_decref(c.out);
        aw_req_reply_status(req, r, "attributes");
        return;
    }
    if (json_object_size(c.out) == 0) {
        json_decref(c.out);
        aw_req_reply_error(req, 404, "no attributes");
        return;
    }
    aw_req_reply_json(req, 200, c.out);
}

static void attr_post(aw_req *req, const char *bucket)
{
    json_t *body;
    if (!aw_req_body_json(req, &body)) return;
    if (!json_is_object(body)) {
        json_decref(body);
        aw_req_reply_error(req, 400, "the body must be a JSON object");
        return;
    }
    aw_store *s = aw_app_store(req->app);
    char ts[20];
    aw_time_plain(ts);
    int r = s->begin(s, true);
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        if (r != AW_OK) break;
        char *txt = aw_json_dump(v);
        r = txt ? s->attrs->set(s, req->actor.id, bucket, k, txt, ts, 0) : AW_ENOMEM;
        free(txt);
    }
    if (r == AW_OK) r = s->commit(s);
    else s->rollback(s);
    if (r != AW_OK) {
        json_decref(body);
        aw_req_reply_status(req, r, "attribute");
        return;
    }
    aw_req_reply_json(req, 200, body);
}

static void attr_put(aw_req *req, const char *bucket, const char *name)
{
    json_t *v = NULL;
    char why[200];
    if (aw_req_is_json(req)) { /* declared JSON must be JSON (clarifications #2) */
        if (!aw_req_body_json(req, &v)) return;
    } else if (aw_json_parse(req->body.data ? req->body.data : "", req->body.len, req->app->cfg.max_depth, &v,
                             why) != AW_JSON_OK) {
        if (!aw_utf8_valid(req->body.data ? req->body.data : "", req->body.len)) {
            aw_req_reply_error(req, 400, "body is not UTF-8");
            return;
        }
        v = json_stringn(req->body.data ? req->body.data : "", req->body.len);
    }
    char *txt = aw_json_dump(v);
    json_decref(v);
    if (!txt) {
        aw_req_reply_status(req, AW_ENOMEM, "attribute");
        return;
    }
    char ts[20];
    aw_time_plain(ts);
    aw_store *s = aw_app_store(req->app);
    int r = s->attrs->set(s, req->actor.id, bucket, name, txt, ts, 0);
    free(txt);
    if (r != AW_OK) aw_req_reply_status(req, r, "attribute");
    else aw_req_reply_empty(req, 204);
}

static void attributes(aw_req *req, bool plural)
{
    const char *bucket = req->nseg > 3 ? req->segs[3] : NULL;
    const char *name = req->nseg > 4 ? req->segs[4] : NULL;
    aw_store *s = aw_app_store(req->app);
    if (req->nseg > 5) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (!strcmp(req->method, "GET")) {
        attr_get(req, bucket, name);
        return;
    }
    if (plural) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (!strcmp(req->method, "POST") && bucket && !name) {
        attr_post(req, bucket);
    } else if (!strcmp(req->method, "PUT") && bucket && name) {
        attr_put(req, bucket, name);
    } else if (!strcmp(req->method, "DELETE")) {
        int r;
        if (name) {
            r = s->attrs->del(s, req->actor.id, bucket, name);
            if (r == AW_ENOTFOUND) r = AW_OK;
        } else {
            r = s->attrs->del_all(s, req->actor.id); /* Ref: a bucket-level DELETE wipes every bucket */
        }
        if (r != AW_OK) aw_req_reply_status(req, r, "attribute");
        else aw_req_reply_empty(req, 204);
    } else {
        aw_req_reply_error(req, 404, "not found");
    }
}

/* POST /devtest/subscriptions/suspend|resume {"target": ..., "subtarget": ...} (clarifications #4). */
static void suspension(aw_req *req, const char *verb)
{
    if (strcmp(req->method, "POST") != 0 || (strcmp(verb, "suspend") != 0 && strcmp(verb, "resume") != 0)) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (req->who.kind != AW_WHO_CREATOR) {
        aw_req_reply_error(req, 403, "creator only");
        return;
    }
    json_t *body;
    if (!aw_req_body_json(req, &body)) return;
    const char *target = aw_json_str(body, "target"), *subtarget = aw_json_str(body, "subtarget");
    if (!target || !*target) {
        json_decref(body);
        aw_req_reply_error(req, 400, "target is required");
        return;
    }
    size_t queued = 0;
    int r = !strcmp(verb, "suspend") ? aw_sub_suspend(req->app, req->actor.id, target, subtarget)
                                     : aw_sub_resume(req->app, req->actor.id, target, subtarget, &queued);
    json_decref(body);
    if (r != AW_OK) aw_req_reply_status(req, r, "suspension");
    else aw_req_reply_json(req, 200, json_pack("{s:s,s:I}", "result", verb, "queued", (json_int_t)queued));
}

void aw_ep_devtest(aw_req *req)
{
    if (!req->app->cfg.devtest) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (!aw_req_authenticate(req)) return;
    const char *what = req->nseg > 2 ? req->segs[2] : "";
    if (!strcmp(what, "ping") && req->nseg == 3) {
        if (!strcmp(req->method, "GET") || !strcmp(req->method, "PUT") || !strcmp(req->method, "DELETE"))
            aw_req_reply_empty(req, 204);
        else aw_req_reply_error(req, 404, "not found");
    } else if (!strcmp(what, "attribute")) {
        attributes(req, false);
    } else if (!strcmp(what, "attributes")) {
        attributes(req, true);
    } else if (!strcmp(what, "subscriptions") && req->nseg == 4) {
        suspension(req, req->segs[3]);
    } else if (!strcmp(what, "proxy")) {
        aw_ep_devtest_proxy(req);
    } else {
        aw_req_reply_error(req, 404, "not found");
    }
}
