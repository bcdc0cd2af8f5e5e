/* /meta and its sub-paths (protocol.md §3). Readable by anyone; credentials are ignored. */
#include <stdlib.h>
#include <string.h>

#include "core/trust_types.h"
#include "http/endpoints.h"

/* Option tags of the features this build implements, sorted. Grows as features land. */
const char *aw_supported_tags(const aw_app *app)
{
    (void)app;
    return "actions,callbackcompression,listproperties,methods,nestedproperties,permissionquery,resources,subscriptionresync,subscriptions,trust,trustpermissions";
}

static void text(aw_req *req, const char *s)
{
    aw_req_reply_raw(req, 200, "text/plain; charset=utf-8", s, strlen(s));
}

/* Trust types offered and their descriptions (/meta/trusttypes, /meta/actingweb/trust_types) come from
 * the trust-type registry (core/trust_types.c). */
static json_t *trust_type_names(const aw_app *app)
{
    json_t *a = json_array();
    for (size_t i = 0; i < aw_trust_type_count(app); i++)
        json_array_append_new(a, json_string(aw_trust_type_at(app, i)->name));
    return a;
}

static void meta_all(aw_req *req)
{
    const aw_config *c = &req->app->cfg;
    json_t *m = json_object();
    json_object_set_new(m, "id", json_string(req->actor.id));
    json_object_set_new(m, "type", json_string(c->type_urn));
    json_object_set_new(m, "version", json_string(c->app_version));
    json_object_set_new(m, "desc", json_string(c->desc));
    json_object_set_new(m, "info", json_string(c->info_url));
    json_object_set_new(m, "trustee_root", json_string(req->actor.trustee_root ? req->actor.trustee_root : ""));
    json_object_set_new(m, "specification", json_string(c->spec_url));
    json_object_set_new(m, "aw_version", json_string(AW_PROTOCOL_VERSION));
    json_object_set_new(m, "aw_supported", json_string(aw_supported_tags(req->app)));
    json_object_set_new(m, "aw_formats", json_string("json"));
    json_object_set_new(m, "aw_trust_types", trust_type_names(req->app));
    json_t *aw = json_object();
    json_object_set_new(aw, "version", json_string(AW_PROTOCOL_VERSION));
    json_object_set_new(aw, "supported", json_string(aw_supported_tags(req->app)));
    json_object_set_new(aw, "formats", json_string("json"));
    json_object_set_new(m, "actingweb", aw);
    aw_req_reply_json(req, 200, m);
}

static void meta_trusttypes(aw_req *req)
{
    json_t *types = json_object();
    for (size_t i = 0; i < aw_trust_type_count(req->app); i++) {
        const aw_trust_type *t = aw_trust_type_at(req->app, i);
        json_object_set_new(types, t->name,
                            json_pack("{s:s,s:s}", "display_name", t->display_name, "description", t->description));
    }
    json_t *out = json_pack("{s:o,s:s}", "trust_types", types, "default_trust_type",
                            req->app->cfg.default_relationship);
    aw_req_reply_json(req, 200, out);
}

static void meta_aw_trust_types(aw_req *req)
{
    json_t *a = json_array();
    for (size_t i = 0; i < aw_trust_type_count(req->app); i++) {
        const aw_trust_type *t = aw_trust_type_at(req->app, i);
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "name", t->name, "display_name", t->display_name,
                                           "description", t->description, "created_by", "system"));
    }
    aw_req_reply_json(req, 200, a);
}

void aw_ep_meta(aw_req *req)
{
    if (strcmp(req->method, "GET") != 0) {
        aw_req_add_header(req, "Allow", "GET");
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    const aw_config *c = &req->app->cfg;
    const char *a = req->nseg > 2 ? req->segs[2] : NULL;
    const char *b = req->nseg > 3 ? req->segs[3] : NULL;
    if (req->nseg > 4) {
        aw_req_reply_error(req, 404, "no such meta path");
        return;
    }
    if (!a) {
        meta_all(req);
    } else if (!b && !strcmp(a, "id")) {
        text(req, req->actor.id);
    } else if (!b && !strcmp(a, "type")) {
        text(req, c->type_urn);
    } else if (!b && !strcmp(a, "version")) {
        text(req, c->app_version);
    } else if (!b && !strcmp(a, "desc")) {
        aw_buf d = AW_BUF_INIT;
        aw_buf_printf(&d, "%s%s", c->desc, req->actor.id);
        char *s = aw_buf_take(&d);
        text(req, s ? s : "");
        free(s);
    } else if (!b && !strcmp(a, "info")) {
        text(req, c->info_url);
    } else if (!b && !strcmp(a, "trustee_root")) {
        text(req, req->actor.trustee_root ? req->actor.trustee_root : "");
    } else if (!b && !strcmp(a, "specification")) {
        text(req, c->spec_url);
    } else if (!b && !strcmp(a, "trusttypes")) {
        meta_trusttypes(req);
    } else if (!strcmp(a, "actingweb") && b) {
        if (!strcmp(b, "version")) text(req, AW_PROTOCOL_VERSION);
        else if (!strcmp(b, "supported")) text(req, aw_supported_tags(req->app));
        else if (!strcmp(b, "formats")) text(req, "json");
        else if (!strcmp(b, "trust_types")) meta_aw_trust_types(req);
        else aw_req_reply_error(req, 404, "no such meta path");
    } else {
        aw_req_reply_error(req, 404, "no such meta path");
    }
}
