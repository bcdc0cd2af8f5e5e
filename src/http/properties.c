/* /properties (protocol.md §6): simple properties, nested paths, the collection, and the routing into the
 * list handlers of properties_lists.c. Value semantics live in core/props.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/changes.h"
#include "core/perms.h"
#include "core/props.h"
#include "http/endpoints.h"
#include "http/hookreq.h"
#include "http/properties_internal.h"
#include "util/json.h"

#define STORE(req) aw_app_store((req)->app)
#define ACTOR(req) ((req)->actor.id)

/* ------------------------------------------------------------------ shared helpers */

bool aw_props_allowed(aw_req *req, const char *target, const char *op)
{
    if (!aw_req_authenticate(req)) return false;
    if (req->who.kind == AW_WHO_PEER) {
        if (!req->who.approved) {
            aw_req_reply_error(req, 403, "trust relationship not approved");
            return false;
        }
        int st = AW_OK;
        aw_perm_decision d = aw_perms_check(req->app, ACTOR(req), &req->who, "properties", target, op, &st);
        if (st != AW_OK) {
            aw_req_reply_status(req, st, "permissions");
            return false;
        }
        if (d == AW_PERM_ALLOWED) return true;
        if (d == AW_PERM_DENIED) {
            aw_req_reply_error(req, 403, "forbidden");
            return false;
        }
    }
    if (!aw_acl_allows(&req->who, "properties", req->method, NULL)) {
        aw_req_reply_error(req, 403, "forbidden");
        return false;
    }
    return true;
}

/* For collection reads: true when a peer may not see this entry (DENIED, or a failure: fail closed). */
static bool entry_hidden(aw_req *req, const char *name)
{
    if (req->who.kind != AW_WHO_PEER) return false;
    int st = AW_OK;
    return aw_perms_check(req->app, ACTOR(req), &req->who, "properties", name, "read", &st) == AW_PERM_DENIED ||
           st != AW_OK;
}

int aw_props_changed(aw_req *req, const char *subtarget, const char *resource, json_t *blob)
{
    if (!blob) return AW_ENOMEM;
    int r = aw_changes_register(req->app, ACTOR(req), "properties", subtarget, resource, blob);
    json_decref(blob);
    return r;
}

void aw_props_reply_status(aw_req *req, int r, const char *what, bool list)
{
    if (list && (r == AW_ESTORAGE_TRANSIENT || r == AW_EBUSY)) {
        aw_req_add_header(req, "Retry-After", "1");
        aw_req_reply_json(req, 503, json_pack("{s:s,s:s}", "error", "list_metadata_contended", "detail",
                                              "the list is being changed by another writer; retry"));
        return;
    }
    aw_req_reply_status(req, r, what);
}

bool aw_props_begin(aw_req *req)
{
    int r = STORE(req)->begin(STORE(req), true);
    if (r == AW_OK) return true;
    aw_req_reply_status(req, r, "transaction");
    return false;
}

bool aw_props_finish(aw_req *req, int r, const char *what, bool list)
{
    if (r == AW_OK) r = STORE(req)->commit(STORE(req));
    else STORE(req)->rollback(STORE(req));
    if (r == AW_OK) return true;
    aw_props_reply_status(req, r, what, list);
    return false;
}

static const char *method_op(const char *m)
{
    if (!strcmp(m, "GET")) return "read";
    if (!strcmp(m, "PUT") || !strcmp(m, "POST")) return "write";
    if (!strcmp(m, "DELETE")) return "delete";
    return NULL;
}

/* "name/sub/..." from the path segments (segs[2..]). */
static void join_target(aw_req *req, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 2; i < req->nseg; i++) {
        int w = snprintf(out + o, cap - o, "%s%s", i > 2 ? "/" : "", req->segs[i]);
        if (w < 0 || (size_t)w >= cap - o) break;
        o += (size_t)w;
    }
}

/* ------------------------------------------------------------------ GET /properties */

typedef struct coll_ctx {
    aw_req *req;
    json_t *out;          /* the answer */
    json_t *names;        /* metadata: simple names */
    int64_t total_bytes;
    int mode;             /* 0 short, 1 full, 2 metadata */
    int err;
} coll_ctx;

static int coll_prop(const char *name, const char *value, bool is_json, void *ud)
{
    coll_ctx *c = ud;
    if (entry_hidden(c->req, name)) return 0;
    if (c->mode == 2) {
        json_array_append_new(c->names, json_string(name));
        c->total_bytes += (int64_t)strlen(value);
        return 0;
    }
    json_t *v = aw_props_value_json(value, is_json);
    if (!v) return AW_ENOMEM;
    json_object_set_new(c->out, name, v); /* property hooks run over the whole collection afterwards */
    return 0;
}

typedef struct list_name_vec {
    char **names;
    size_t n, cap;
} list_name_vec;

static int collect_list(const char *name, const aw_list_meta *meta, void *ud)
{
    (void)meta;
    list_name_vec *v = ud;
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 8;
        char **nn = realloc(v->names, nc * sizeof *nn);
        if (!nn) return AW_ENOMEM;
        v->names = nn;
        v->cap = nc;
    }
    if (!(v->names[v->n] = strdup(name))) return AW_ENOMEM;
    v->n++;
    return 0;
}

static void free_names(list_name_vec *v)
{
    for (size_t i = 0; i < v->n; i++) free(v->names[i]);
    free(v->names);
}

/* The GET hooks have transformed or left out entries: answer with what remains. */
static void collection_hooked(aw_req *req, int status, void *ud)
{
    json_t *out = ud;
    if (status) {
        json_decref(out);
        aw_hookreq_reply(req, status, NULL, 200);
        return;
    }
    aw_req_reply_json(req, 200, out);
}

static void get_collection(aw_req *req)
{
    const char *format = aw_req_query(req, "format");
    const char *metadata = aw_req_query(req, "metadata");
    if (format && metadata) {
        aw_req_reply_error(req, 400, "format and metadata cannot be combined");
        return;
    }
    coll_ctx c = {.req = req};
    if (metadata) {
        if (strcmp(metadata, "true") && strcmp(metadata, "false")) {
            aw_req_reply_error(req, 400, "metadata must be true or false");
            return;
        }
        c.mode = !strcmp(metadata, "true") ? 2 : 0;
    } else if (format) {
        if (!strcmp(format, "full")) c.mode = 1;
        else if (strcmp(format, "short")) {
            aw_req_reply_error(req, 400, "format must be short or full");
            return;
        }
    }
    if (!aw_props_allowed(req, "", "read")) return;
    c.out = json_object();
    c.names = json_array();
    list_name_vec lists = {0};
    int r = c.out && c.names ? AW_OK : AW_ENOMEM;
    if (r == AW_OK) r = STORE(req)->props->each(STORE(req), ACTOR(req), coll_prop, &c);
    if (r == AW_OK) r = STORE(req)->lists->each(STORE(req), ACTOR(req), collect_list, &lists);
    json_t *lmeta = c.mode == 2 ? json_object() : NULL;
    for (size_t i = 0; r == AW_OK && i < lists.n; i++) {
        const char *name = lists.names[i];
        if (entry_hidden(req, name)) continue;
        aw_list_meta m = {0};
        r = STORE(req)->lists->meta(STORE(req), ACTOR(req), name, &m);
        if (r == AW_ENOTFOUND) { /* removed meanwhile */
            r = AW_OK;
            continue;
        }
        if (r != AW_OK) break;
        json_t *e = json_object();
        if (c.mode != 2) json_object_set_new(e, "_list", json_true());
        json_object_set_new(e, "count", json_integer(m.count));
        if (c.mode >= 1) {
            json_object_set_new(e, "description", json_string(m.description));
            json_object_set_new(e, "explanation", json_string(m.explanation));
        }
        aw_list_meta_free(&m);
        if (c.mode >= 1) {
            aw_buf b = AW_BUF_INIT;
            int64_t bytes = 0;
            r = aw_props_list_array(req, name, &b, &bytes);
            if (r == AW_OK && c.mode == 1) {
                json_t *arr = b.data ? json_loads(b.data, 0, NULL) : NULL;
                if (arr) json_object_set_new(e, "items", arr);
                else r = AW_ENOMEM;
            }
            if (c.mode == 2) json_object_set_new(e, "total_bytes", json_integer(bytes));
            aw_buf_free(&b);
        }
        json_object_set_new(c.mode == 2 ? lmeta : c.out, name, e);
    }
    free_names(&lists);
    if (r != AW_OK) {
        json_decref(c.out);
        json_decref(c.names);
        json_decref(lmeta);
        aw_props_reply_status(req, r, "properties", c.mode == 1);
        return;
    }
    if (c.mode == 2) {
        json_decref(c.out);
        c.out = json_pack("{s:{s:o,s:I},s:o}", "simple", "properties", c.names, "total_bytes",
                          (json_int_t)c.total_bytes, "lists", lmeta);
    } else {
        json_decref(c.names);
    }
    if (!c.out) aw_req_reply_status(req, AW_ENOMEM, "properties");
    else if (c.mode == 2) aw_req_reply_json(req, 200, c.out);
    else aw_hookreq_prop_each(req, AW_HOOK_PROP_GET, c.out, collection_hooked, c.out); /* may answer later */
}

/* ------------------------------------------------------------------ DELETE /properties */

static int collect_prop(const char *name, const char *value, bool is_json, void *ud)
{
    (void)value;
    (void)is_json;
    return collect_list(name, NULL, ud);
}

static void delete_collection(aw_req *req)
{
    if (!aw_props_allowed(req, "", "delete")) return;
    if (!aw_props_begin(req)) return;
    list_name_vec props = {0}, lists = {0};
    aw_store *s = STORE(req);
    int r = s->props->each(s, ACTOR(req), collect_prop, &props);
    if (r == AW_OK) r = s->lists->each(s, ACTOR(req), collect_list, &lists);
    if (r == AW_OK) r = s->props->del_all(s, ACTOR(req));
    for (size_t i = 0; r == AW_OK && i < props.n; i++)
        r = aw_props_changed(req, props.names[i], NULL, json_string(""));
    for (size_t i = 0; r == AW_OK && i < lists.n; i++) {
        r = s->lists->del(s, ACTOR(req), lists.names[i]);
        if (r == AW_OK)
            r = aw_props_changed(req, lists.names[i], NULL,
                                 aw_props_list_diff(lists.names[i], "delete_all", 0, NULL, -1));
    }
    free_names(&props);
    free_names(&lists);
    if (aw_props_finish(req, r, "properties", false)) aw_req_reply_empty(req, 204);
}

/* ------------------------------------------------------------------ POST /properties */

/* The body of a collection POST as a JSON object: JSON, or a form (every field a string; the web-UI field
 * set property/property_type/value/description/explanation creates one property or one empty list). */
static json_t *post_body(aw_req *req)
{
    if (req->form && !aw_req_is_json(req)) {
        const char *prop = aw_json_str(req->form, "property");
        if (prop) {
            const char *type = aw_json_str(req->form, "property_type");
            json_t *v;
            if (type && !strcmp(type, "list")) {
                const char *d = aw_json_str(req->form, "description"), *e = aw_json_str(req->form, "explanation");
                v = json_pack("{s:s,s:s,s:s}", "_type", "list", "description", d ? d : "", "explanation",
                              e ? e : "");
            } else {
                const char *val = aw_json_str(req->form, "value");
                v = json_string(val ? val : "");
            }
            json_t *o = json_object();
            if (o && v) json_object_set_new(o, prop, v);
            else json_decref(v);
            if (!o) aw_req_reply_status(req, AW_ENOMEM, "body");
            return o;
        }
        json_t *o = json_deep_copy(req->form);
        if (!o) {
            aw_req_reply_status(req, AW_ENOMEM, "body");
            return NULL;
        }
        json_object_del(o, "_method");
        return o;
    }
    json_t *body = NULL;
    if (!aw_req_body_json(req, &body)) return NULL;
    if (!json_is_object(body)) {
        json_decref(body);
        aw_req_reply_error(req, 400, "a JSON object is required");
        return NULL;
    }
    return body;
}

static void post_hooked(aw_req *req, int status, void *ud);
static void post_store(aw_req *req, json_t *body);

static void post_collection(aw_req *req)
{
    if (!aw_props_allowed(req, "", "write")) return;
    json_t *body = post_body(req);
    if (!body) return;
    const char *k;
    json_t *v;
    /* Names and peer permissions first: nothing is written when one is refused. */
    json_object_foreach(body, k, v) {
        int nc = aw_props_name_check(k);
        if (nc) {
            json_decref(body);
            aw_req_reply_error(req, 400, "invalid property name");
            return;
        }
        if (req->who.kind == AW_WHO_PEER) {
            int st = AW_OK;
            if (aw_perms_check(req->app, ACTOR(req), &req->who, "properties", k, "write", &st) == AW_PERM_DENIED ||
                st != AW_OK) {
                json_decref(body);
                aw_req_reply_error(req, 403, "forbidden");
                return;
            }
        }
    }
    /* Property hooks may transform or refuse values, and may answer later; storing continues there. */
    aw_hookreq_prop_each(req, AW_HOOK_PROP_POST, body, post_hooked, body);
}

static void post_hooked(aw_req *req, int status, void *ud)
{
    json_t *body = ud;
    if (status) {
        aw_hookreq_reply(req, status, NULL, 201);
        json_decref(body);
        return;
    }
    post_store(req, body);
}

static void post_store(aw_req *req, json_t *body)
{
    aw_store *s = STORE(req);
    const char *k;
    json_t *v;
    if (!aw_props_begin(req)) {
        json_decref(body);
        return;
    }
    json_t *echo = json_object(), *simple = json_object();
    int r = echo && simple ? AW_OK : AW_ENOMEM;
    int client = 0; /* 400 / 409 for a client mistake */
    char why[200] = "";
    json_object_foreach(body, k, v) {
        if (r != AW_OK) break;
        int is_list = s->lists->exists(s, ACTOR(req), k);
        if (is_list != AW_OK && is_list != AW_ENOTFOUND) {
            r = is_list;
            break;
        }
        bool list = is_list == AW_OK;
        json_t *type = json_object_get(v, "_type");
        if (json_is_object(v) && json_is_string(type) && !strcmp(json_string_value(type), "list")) {
            json_t *d = json_object_get(v, "description"), *e = json_object_get(v, "explanation");
            if ((d && !json_is_string(d)) || (e && !json_is_string(e))) {
                client = 400;
                snprintf(why, sizeof why, "description and explanation must be strings");
                r = AW_EINVAL;
                break;
            }
            char *tmp = NULL;
            int pr = s->props->get(s, ACTOR(req), k, &tmp, NULL);
            free(tmp);
            if (pr == AW_OK || list) {
                client = 409;
                snprintf(why, sizeof why, "property %s already exists", k);
                r = AW_ECONFLICT;
                break;
            }
            if (pr != AW_ENOTFOUND) {
                r = pr;
                break;
            }
            r = s->lists->create(s, ACTOR(req), k, json_string_value(d), json_string_value(e));
            if (r == AW_ECONFLICT) client = 409;
            json_object_set_new(echo, k, json_string("[Empty list property created]"));
            continue;
        }
        if (json_is_object(v) && json_object_get(v, "items")) {
            json_t *items = json_object_get(v, "items");
            json_t *summary = NULL;
            if (!json_is_array(items)) {
                client = 400;
                snprintf(why, sizeof why, "items must be an array");
                r = AW_EINVAL;
                break;
            }
            if (json_array_size(items) == 0) {
                json_object_set_new(echo, k, json_string("[No items to update]"));
                continue;
            }
            if (!list) {
                client = 400;
                snprintf(why, sizeof why, "%s is not a list property", k);
                r = AW_EINVAL;
                break;
            }
            r = aw_props_list_bulk(req, k, items, &summary, why);
            if (r == AW_EINVAL) client = 400;
            if (summary) json_object_set_new(echo, k, summary);
            continue;
        }
        if (json_is_string(v) && json_string_length(v) == 0) {
            r = s->props->del(s, ACTOR(req), k);
            if (r == AW_ENOTFOUND && list) {
                r = s->lists->del(s, ACTOR(req), k);
                if (r == AW_OK) r = aw_props_changed(req, k, NULL, aw_props_list_diff(k, "delete_all", 0, NULL, -1));
            }
            if (r == AW_ENOTFOUND) r = AW_OK;
            json_object_set(echo, k, v);
            json_object_set(simple, k, v);
            continue;
        }
        if (list) {
            client = 409;
            snprintf(why, sizeof why, "%s is a list property", k);
            r = AW_ECONFLICT;
            break;
        }
        if (json_is_string(v)) {
            r = s->props->set(s, ACTOR(req), k, json_string_value(v), false);
        } else {
            char *txt = aw_json_dump(v);
            r = txt ? s->props->set(s, ACTOR(req), k, txt, true) : AW_ENOMEM;
            free(txt);
        }
        json_object_set(echo, k, v);
        json_object_set(simple, k, v);
    }
    json_decref(body);
    if (r == AW_OK && json_object_size(echo) == 0) {
        s->rollback(s);
        json_decref(echo);
        json_decref(simple);
        aw_req_reply_error(req, 403, "No attributes accepted");
        return;
    }
    if (r == AW_OK && json_object_size(simple) > 0) {
        json_incref(simple);
        r = aw_props_changed(req, NULL, NULL, simple);
    }
    json_decref(simple);
    if (client && r != AW_OK) {
        s->rollback(s);
        json_decref(echo);
        aw_req_reply_error(req, client, "%s", why[0] ? why : "invalid value");
        return;
    }
    if (!aw_props_finish(req, r, "properties", false)) {
        json_decref(echo);
        return;
    }
    aw_req_reply_json(req, 201, echo);
}

/* ------------------------------------------------------------------ one simple property */

/* Property hooks (sdk-api.md §4.2) answered: the (transformed) value, or their rejection / hide. */
static void get_hooked(aw_req *req, int status, json_t *value, void *ud)
{
    (void)ud;
    if (status >= 400) aw_hookreq_reply(req, status, value, 200);
    else aw_req_reply_json(req, 200, value ? json_incref(value) : json_null());
}

static void get_simple(aw_req *req, const char *name)
{
    if (!aw_props_allowed(req, name, "read")) return;
    char *value = NULL;
    bool is_json = false;
    aw_store *s = STORE(req);
    int r = s->props->get(s, ACTOR(req), name, &value, &is_json);
    if (r == AW_OK && aw_hookreq_prop_match(req, name, AW_HOOK_PROP_GET)) {
        json_t *v = aw_props_value_json(value, is_json);
        free(value);
        aw_hookreq_prop_run(req, AW_HOOK_PROP_GET, name, v, get_hooked, NULL);
        return;
    }
    if (r == AW_OK) {
        aw_req_reply_raw(req, 200, "application/json", value, strlen(value));
        free(value);
        return;
    }
    if (r != AW_ENOTFOUND) {
        aw_req_reply_status(req, r, "property");
        return;
    }
    /* A list created after the router's check, or none at all. */
    r = s->lists->exists(s, ACTOR(req), name);
    if (r == AW_OK) aw_props_list_get(req, name);
    else aw_req_reply_status(req, r, "property");
}

static void put_store(aw_req *req, const char *name, json_t *val, bool is_json);

/* The PUT hooks answered: store their value, or answer their rejection. A transformed raw-text value
 * stays raw text when it is still a string. */
static void put_hooked(aw_req *req, int status, json_t *value, void *ud)
{
    if (status >= 400) {
        aw_hookreq_reply(req, status, value, 204);
        return;
    }
    if (!value) {
        aw_req_reply_error(req, 400, "the application removed the value");
        return;
    }
    bool is_json = ud != NULL || !json_is_string(value);
    put_store(req, req->segs[2], json_incref(value), is_json);
}

static void put_simple(aw_req *req, const char *name)
{
    if (!aw_props_allowed(req, name, "write")) return;
    json_t *val = NULL;
    bool is_json = false;
    if (req->body.len > 0) {
        char why[200] = "invalid value";
        int pr = aw_props_parse_body(req->body.data, req->body.len, aw_req_is_json(req), req->app->cfg.max_depth,
                                     &val, &is_json, why);
        if (pr == AW_EINVAL) {
            aw_req_reply_error(req, 400, "%s", why);
            return;
        }
        if (pr != AW_OK) {
            aw_req_reply_status(req, pr, "property");
            return;
        }
    }
    if (val && aw_hookreq_prop_match(req, name, AW_HOOK_PROP_PUT)) {
        aw_hookreq_prop_run(req, AW_HOOK_PROP_PUT, name, val, put_hooked, is_json ? req : NULL);
        return;
    }
    put_store(req, name, val, is_json);
}

/* Store a PUT value (val stolen; NULL = delete). */
static void put_store(aw_req *req, const char *name, json_t *val, bool is_json)
{
    aw_store *s = STORE(req);
    char *txt = NULL;
    if (val && is_json && !(txt = aw_json_dump(val))) {
        json_decref(val);
        aw_req_reply_status(req, AW_ENOMEM, "property");
        return;
    }
    if (!aw_props_begin(req)) {
        json_decref(val);
        free(txt);
        return;
    }
    int r = s->lists->exists(s, ACTOR(req), name);
    if (r == AW_OK) {
        s->rollback(s);
        json_decref(val);
        free(txt);
        aw_req_reply_error(req, 409, "%s is a list property", name);
        return;
    }
    if (r == AW_ENOTFOUND) {
        if (!val) { /* empty body: delete */
            r = s->props->del(s, ACTOR(req), name);
            if (r == AW_OK) r = aw_props_changed(req, name, NULL, json_string(""));
            else if (r == AW_ENOTFOUND) r = AW_OK;
        } else {
            r = s->props->set(s, ACTOR(req), name, txt ? txt : json_string_value(val), is_json);
            /* Subscribers see the value as a collection read shows it (raw text that is JSON, parsed). */
            if (r == AW_OK)
                r = aw_props_changed(req, name, NULL,
                                     is_json ? json_incref(val) : aw_props_value_json(req->body.data, false));
        }
    }
    json_decref(val);
    free(txt);
    if (aw_props_finish(req, r, "property", false)) aw_req_reply_empty(req, 204);
}

static void delete_do(aw_req *req, const char *name);

static void delete_hooked(aw_req *req, int status, json_t *value, void *ud)
{
    (void)ud;
    if (status >= 400) aw_hookreq_reply(req, status, value, 204);
    else delete_do(req, req->segs[2]);
}

static void delete_simple(aw_req *req, const char *name)
{
    if (!aw_props_allowed(req, name, "delete")) return;
    if (aw_hookreq_prop_match(req, name, AW_HOOK_PROP_DELETE)) {
        /* The hooks see the current value (null when absent) and may refuse. */
        char *value = NULL;
        bool is_json = false;
        int r = STORE(req)->props->get(STORE(req), ACTOR(req), name, &value, &is_json);
        if (r != AW_OK && r != AW_ENOTFOUND) {
            aw_req_reply_status(req, r, "property");
            return;
        }
        json_t *cur = r == AW_OK ? aw_props_value_json(value, is_json) : json_null();
        free(value);
        aw_hookreq_prop_run(req, AW_HOOK_PROP_DELETE, name, cur, delete_hooked, NULL);
        return;
    }
    delete_do(req, name);
}

static void delete_do(aw_req *req, const char *name)
{
    aw_store *s = STORE(req);
    if (!aw_props_begin(req)) return;
    int r = s->props->del(s, ACTOR(req), name);
    if (r == AW_OK) r = aw_props_changed(req, name, NULL, json_string(""));
    else if (r == AW_ENOTFOUND) {
        r = s->lists->del(s, ACTOR(req), name);
        if (r == AW_OK) r = aw_props_changed(req, name, NULL, aw_props_list_diff(name, "delete_all", 0, NULL, -1));
        else if (r == AW_ENOTFOUND) r = AW_OK;
    }
    if (aw_props_finish(req, r, "property", false)) aw_req_reply_empty(req, 204);
}

/* ------------------------------------------------------------------ nested members */

static void get_nested(aw_req *req, const char *name, const char *target)
{
    if (!aw_props_allowed(req, target, "read")) return;
    char *value = NULL;
    bool is_json = false;
    int r = STORE(req)->props->get(STORE(req), ACTOR(req), name, &value, &is_json);
    if (r != AW_OK) {
        aw_req_reply_status(req, r, "property");
        return;
    }
    if (!is_json) { /* Ref: the whole raw text */
        aw_req_reply_raw(req, 200, "application/json", value, strlen(value));
        free(value);
        return;
    }
    json_t *root = json_loads(value, JSON_DECODE_ANY, NULL);
    free(value);
    json_t *m = aw_props_path_get(root, (const char *const *)req->segs + 3, req->nseg - 3);
    if (!m) {
        json_decref(root);
        aw_req_reply_error(req, 404, "property member not found");
        return;
    }
    json_incref(m);
    json_decref(root);
    if (aw_hookreq_prop_match(req, name, AW_HOOK_PROP_GET)) { /* the hooks see the member (path in ctx) */
        aw_hookreq_prop_run(req, AW_HOOK_PROP_GET, name, m, get_hooked, NULL);
        return;
    }
    aw_req_reply_json(req, 200, m);
}

/* The change blob of a nested write: resource = segs[3], blob = the part below it. */
static json_t *nested_blob(aw_req *req, json_t *leaf /* stolen */)
{
    size_t n = req->nseg - 4; /* members below the resource */
    return n == 0 ? leaf : aw_props_path_wrap((const char *const *)req->segs + 4, n, leaf);
}

static void write_nested(aw_req *req, const char *name, const char *target, bool del)
{
    if (!aw_props_allowed(req, target, del ? "delete" : "write")) return;
    aw_store *s = STORE(req);
    const char *const *path = (const char *const *)req->segs + 3;
    size_t n = req->nseg - 3;
    json_t *leaf = NULL;
    bool leaf_json = false;
    if (!del && req->body.len > 0) {
        char why[200] = "invalid value";
        int pr = aw_props_parse_body(req->body.data, req->body.len, aw_req_is_json(req), req->app->cfg.max_depth,
                                     &leaf, &leaf_json, why);
        if (pr != AW_OK) {
            if (pr == AW_EINVAL) aw_req_reply_error(req, 400, "%s", why);
            else aw_req_reply_status(req, pr, "property");
            return;
        }
    }
    bool member_del = del || !leaf;
    /* Property hooks of `name` see nested writes too (path segments in their context); here they run
     * synchronously: a hook that answers later counts as a failure. */
    unsigned hop = member_del ? AW_HOOK_PROP_DELETE : AW_HOOK_PROP_PUT;
    if (aw_hookreq_prop_match(req, name, hop)) {
        if (!leaf) leaf = json_null();
        int hs = aw_hookreq_prop_sync(req, hop, name, &leaf);
        if (hs) {
            json_decref(leaf);
            aw_hookreq_reply(req, hs, NULL, 204);
            return;
        }
        if (member_del) {
            json_decref(leaf);
            leaf = NULL;
        } else if (!leaf) {
            aw_req_reply_error(req, 400, "the application removed the value");
            return;
        }
    }
    if (!aw_props_begin(req)) {
        json_decref(leaf);
        return;
    }
    char *value = NULL;
    bool is_json = false;
    json_t *root = NULL;
    int r = s->props->get(s, ACTOR(req), name, &value, &is_json);
    if (r == AW_OK && is_json) root = json_loads(value, JSON_DECODE_ANY, NULL);
    free(value);
    int status = 0;
    if (member_del) {
        if (r == AW_OK) r = root ? aw_props_path_del(root, path, n) : AW_ENOTFOUND;
        if (r == AW_ENOTFOUND) status = del ? 404 : 204; /* an empty PUT of a missing member: nothing to do */
    } else if (r == AW_OK || r == AW_ENOTFOUND) {
        json_incref(leaf);
        root = aw_props_path_set(root, path, n, leaf);
        r = root ? AW_OK : AW_ENOMEM;
        if (root && aw_json_depth(root) > (req->app->cfg.max_depth > 0 ? req->app->cfg.max_depth : 64)) {
            status = 400;
            r = AW_EINVAL;
        }
    }
    if (r == AW_OK) {
        char *txt = aw_json_dump(root);
        r = txt ? s->props->set(s, ACTOR(req), name, txt, true) : AW_ENOMEM;
        free(txt);
    }
    if (r == AW_OK) {
        json_t *blob = member_del ? json_string("") : leaf;
        if (!member_del) json_incref(leaf);
        r = aw_props_changed(req, name, req->segs[3], nested_blob(req, blob));
    }
    json_decref(root);
    json_decref(leaf);
    if (status && r != AW_OK) {
        s->rollback(s);
        if (status == 204) aw_req_reply_empty(req, 204);
        else aw_req_reply_error(req, status, status == 404 ? "property member not found" : "value nested too deep");
        return;
    }
    if (aw_props_finish(req, r, "property", false)) aw_req_reply_empty(req, 204);
}

/* ------------------------------------------------------------------ entry */

void aw_ep_properties(aw_req *req)
{
    const char *m = req->method;
    const char *op = method_op(m);
    if (!op) {
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    if (!aw_req_authenticate(req)) return;
    size_t n = req->nseg - 2;
    if (n == 0) {
        if (!strcmp(m, "GET")) get_collection(req);
        else if (!strcmp(m, "POST")) post_collection(req);
        else if (!strcmp(m, "DELETE")) delete_collection(req);
        else aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    const char *name = req->segs[2];
    int nc = aw_props_name_check(name);
    if (nc) {
        if (nc == 404 && !strcmp(m, "GET")) aw_req_reply_error(req, 404, "property not found");
        else aw_req_reply_error(req, 400, "invalid property name");
        return;
    }
    if (n == 1 && !strcmp(m, "GET")) { /* the hot path: one read */
        get_simple(req, name);
        return;
    }
    int lr = STORE(req)->lists->exists(STORE(req), ACTOR(req), name);
    if (lr != AW_OK && lr != AW_ENOTFOUND) {
        aw_props_reply_status(req, lr, "property", true);
        return;
    }
    bool is_list = lr == AW_OK;
    if (!strcmp(m, "POST") && !is_list) { /* Ref: POST /properties/{name} is the collection POST */
        post_collection(req);
        return;
    }
    if (is_list) {
        if (!aw_props_allowed(req, name, op)) return;
        if (n > 1) aw_props_list_sub(req, name);
        else if (!strcmp(m, "POST")) aw_props_list_append(req, name);
        else if (!strcmp(m, "PUT")) {
            if (aw_req_query(req, "index")) aw_props_list_put_index(req, name);
            else aw_req_reply_error(req, 409, "%s is a list property", name);
        } else aw_props_list_delete(req, name);
        return;
    }
    if (n == 1) {
        if (!strcmp(m, "PUT")) put_simple(req, name);
        else delete_simple(req, name);
        return;
    }
    if (n == 2 && strcmp(m, "DELETE") && (!strcmp(req->segs[3], "metadata") || !strcmp(req->segs[3], "items"))) {
        /* Ref: the list sub-resources on a name that is not a list are 404, never nested members. */
        aw_req_reply_error(req, 404, "%s is not a list property", name);
        return;
    }
    char target[4400];
    join_target(req, target, sizeof target);
    if (!strcmp(m, "GET")) get_nested(req, name, target);
    else write_nested(req, name, target, !strcmp(m, "DELETE"));
}
