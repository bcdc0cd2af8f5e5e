/* /properties list handlers (protocol.md §6.7): the spec's index paths, the Ref extensions (?index=,
 * /items, /metadata), and the bulk edit of §6.7.5. Every write registers the §9.7 diff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/props.h"
#include "http/hookreq.h"
#include "http/properties_internal.h"
#include "util/json.h"

#define STORE(req) aw_app_store((req)->app)
#define ACTOR(req) ((req)->actor.id)

typedef struct arr_ctx {
    aw_buf *b;
    int64_t bytes;
} arr_ctx;

static int arr_item(int64_t index, int64_t item_id, const char *json, void *ud)
{
    (void)item_id;
    arr_ctx *c = ud;
    if (index > 0 || c->b->len > 1) aw_buf_puts(c->b, ",");
    aw_buf_puts(c->b, json);
    c->bytes += (int64_t)strlen(json);
    return c->b->oom ? AW_ENOMEM : 0;
}

int aw_props_list_array(aw_req *req, const char *name, aw_buf *b, int64_t *total_bytes)
{
    arr_ctx c = {b, 0};
    aw_buf_puts(b, "[");
    int r = STORE(req)->lists->items(STORE(req), ACTOR(req), name, 0, -1, arr_item, &c);
    aw_buf_puts(b, "]");
    if (r == AW_OK && b->oom) r = AW_ENOMEM;
    if (total_bytes) *total_bytes = c.bytes;
    return r;
}

static int list_count(aw_req *req, const char *name, int64_t *count)
{
    aw_list_meta m = {0};
    int r = STORE(req)->lists->meta(STORE(req), ACTOR(req), name, &m);
    if (r == AW_OK) *count = m.count;
    aw_list_meta_free(&m);
    return r;
}

static void item_hooked(aw_req *req, int status, json_t *value, void *ud)
{
    (void)ud;
    if (status >= 400) aw_hookreq_reply(req, status, value, 200);
    else aw_req_reply_json(req, 200, value ? json_incref(value) : json_null());
}

/* Property hooks of the list's name see its items too (sdk-api.md §4.2); reads may answer later, writes
 * run them synchronously (a hook that answers later counts as a failure). Returns 0 or the status
 * already answered; *item may be replaced by a transform. */
static int item_write_hooks(aw_req *req, unsigned op, const char *name, json_t **item, char **txt)
{
    if (!aw_hookreq_prop_match(req, name, op)) return 0;
    int hs = aw_hookreq_prop_sync(req, op, name, item);
    if (hs) {
        aw_hookreq_reply(req, hs, NULL, 204);
        return hs;
    }
    if (txt && *item) {
        char *nt = aw_json_dump(*item);
        if (!nt) {
            aw_req_reply_status(req, AW_ENOMEM, "item");
            return 503;
        }
        free(*txt);
        *txt = nt;
    } else if (txt) {
        aw_req_reply_error(req, 400, "the application removed the value");
        return 400;
    }
    return 0;
}

static void reply_item(aw_req *req, const char *name, int64_t index)
{
    char *json = NULL;
    int r = STORE(req)->lists->get_at(STORE(req), ACTOR(req), name, index, NULL, &json);
    if (r == AW_OK && aw_hookreq_prop_match(req, name, AW_HOOK_PROP_GET)) {
        json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
        free(json);
        aw_hookreq_prop_run(req, AW_HOOK_PROP_GET, name, v, item_hooked, NULL);
        return;
    }
    if (r == AW_OK) aw_req_reply_raw(req, 200, "application/json", json, strlen(json));
    else if (r == AW_ENOTFOUND) aw_req_reply_error(req, 404, "no item at index %lld", (long long)index);
    else aw_props_reply_status(req, r, "list", true);
    free(json);
}

void aw_props_list_get(aw_req *req, const char *name)
{
    const char *idx = aw_req_query(req, "index");
    if (idx) {
        int64_t i = aw_props_parse_index(idx);
        if (i < 0) aw_req_reply_error(req, 400, "index must be an integer >= 0");
        else reply_item(req, name, i);
        return;
    }
    const char *format = aw_req_query(req, "format");
    if (format && strcmp(format, "short") && strcmp(format, "full")) {
        aw_req_reply_error(req, 400, "format must be short or full");
        return;
    }
    if (format && !strcmp(format, "short")) {
        aw_list_meta m = {0};
        int r = STORE(req)->lists->meta(STORE(req), ACTOR(req), name, &m);
        if (r != AW_OK) {
            aw_props_reply_status(req, r, "list", true);
            return;
        }
        aw_req_reply_json(req, 200, json_pack("{s:b,s:I,s:s,s:s}", "_list", 1, "count", (json_int_t)m.count,
                                              "description", m.description, "explanation", m.explanation));
        aw_list_meta_free(&m);
        return;
    }
    aw_buf b = AW_BUF_INIT;
    int r = aw_props_list_array(req, name, &b, NULL);
    if (r == AW_OK) aw_req_reply_raw(req, 200, "application/json", b.data, b.len);
    else aw_props_reply_status(req, r, "list", true);
    aw_buf_free(&b);
}

/* The body as one list item, serialised. Answers 400 and returns false on a bad body. */
static bool body_item(aw_req *req, json_t **item, char **txt)
{
    *item = NULL;
    *txt = NULL;
    if (req->body.len == 0) {
        aw_req_reply_error(req, 400, "an item is required");
        return false;
    }
    char why[200] = "invalid item";
    bool is_json;
    int r = aw_props_parse_body(req->body.data, req->body.len, aw_req_is_json(req), req->app->cfg.max_depth, item,
                                &is_json, why);
    if (r == AW_OK && !(*txt = aw_json_dump(*item))) r = AW_ENOMEM;
    if (r == AW_OK) return true;
    json_decref(*item);
    *item = NULL;
    if (r == AW_EINVAL) aw_req_reply_error(req, 400, "%s", why);
    else aw_req_reply_status(req, r, "item");
    return false;
}

/* Write at index inside the open transaction: update (index < count), append (index == count), else
 * AW_ENOTFOUND. Registers the diff. */
static int write_at(aw_req *req, const char *name, int64_t index, json_t *item, const char *txt, bool *appended)
{
    int64_t count = 0;
    aw_store *s = STORE(req);
    int r = list_count(req, name, &count);
    if (r != AW_OK) return r;
    *appended = false;
    if (index < count) {
        r = s->lists->update_at(s, ACTOR(req), name, index, txt);
        if (r == AW_OK) r = aw_props_changed(req, name, NULL, aw_props_list_diff(name, "update", count, item, index));
    } else if (index == count) {
        r = s->lists->insert_at(s, ACTOR(req), name, index, txt, NULL);
        if (r == AW_OK)
            r = aw_props_changed(req, name, NULL, aw_props_list_diff(name, "append", count + 1, item, index));
        *appended = true;
    } else {
        r = AW_ENOTFOUND;
    }
    return r;
}

static void put_at(aw_req *req, const char *name, int64_t index)
{
    json_t *item;
    char *txt;
    if (!body_item(req, &item, &txt)) return;
    if (!item_write_hooks(req, AW_HOOK_PROP_PUT, name, &item, &txt) && aw_props_begin(req)) {
        bool appended;
        int r = write_at(req, name, index, item, txt, &appended);
        if (r == AW_ENOTFOUND) {
            STORE(req)->rollback(STORE(req));
            aw_req_reply_error(req, 404, "index %lld is beyond the list", (long long)index);
        } else if (aw_props_finish(req, r, "list", true)) {
            aw_req_reply_empty(req, 204);
        }
    }
    json_decref(item);
    free(txt);
}

void aw_props_list_put_index(aw_req *req, const char *name)
{
    int64_t i = aw_props_parse_index(aw_req_query(req, "index"));
    if (i < 0) aw_req_reply_error(req, 400, "index must be an integer >= 0");
    else put_at(req, name, i);
}

static void url_escape(aw_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~' || c == ':' || c == '@')
            aw_buf_append(b, &c, 1);
        else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            aw_buf_append(b, e, 3);
        }
    }
}

/* Append inside the open transaction; *index gets the new position. */
static int append_item(aw_req *req, const char *name, json_t *item, const char *txt, int64_t *index)
{
    int64_t count = 0;
    int r = list_count(req, name, &count);
    if (r == AW_OK) r = STORE(req)->lists->insert_at(STORE(req), ACTOR(req), name, count, txt, NULL);
    if (r == AW_OK) r = aw_props_changed(req, name, NULL, aw_props_list_diff(name, "append", count + 1, item, count));
    *index = count;
    return r;
}

void aw_props_list_append(aw_req *req, const char *name)
{
    json_t *item;
    char *txt;
    if (!body_item(req, &item, &txt)) return;
    int64_t index = 0;
    if (!item_write_hooks(req, AW_HOOK_PROP_POST, name, &item, &txt) && aw_props_begin(req) &&
        aw_props_finish(req, append_item(req, name, item, txt, &index), "list", true)) {
        aw_buf loc = AW_BUF_INIT;
        aw_buf_printf(&loc, "%s/properties/", req->actor_url);
        url_escape(&loc, name);
        aw_buf_printf(&loc, "/%lld", (long long)index);
        if (loc.data) aw_req_add_header(req, "Location", loc.data);
        aw_buf_free(&loc);
        aw_req_reply_json(req, 201, json_pack("{s:b,s:I}", "success", 1, "index", (json_int_t)index));
    }
    json_decref(item);
    free(txt);
}

void aw_props_list_delete(aw_req *req, const char *name)
{
    if (!aw_props_begin(req)) return;
    int r = STORE(req)->lists->del(STORE(req), ACTOR(req), name);
    if (r == AW_OK) r = aw_props_changed(req, name, NULL, aw_props_list_diff(name, "delete_all", 0, NULL, -1));
    else if (r == AW_ENOTFOUND) r = AW_OK;
    if (aw_props_finish(req, r, "list", true)) aw_req_reply_empty(req, 204);
}

/* Delete at index inside the open transaction (AW_ENOTFOUND out of range). */
static int delete_at(aw_req *req, const char *name, int64_t index)
{
    int64_t count = 0;
    int r = list_count(req, name, &count);
    if (r == AW_OK) r = STORE(req)->lists->delete_at(STORE(req), ACTOR(req), name, index);
    if (r == AW_OK) r = aw_props_changed(req, name, NULL, aw_props_list_diff(name, "delete", count - 1, NULL, index));
    return r;
}

static void delete_index(aw_req *req, const char *name, int64_t index)
{
    if (aw_hookreq_prop_match(req, name, AW_HOOK_PROP_DELETE)) { /* the hooks see the current item */
        char *json = NULL;
        int r = STORE(req)->lists->get_at(STORE(req), ACTOR(req), name, index, NULL, &json);
        json_t *cur = r == AW_OK ? json_loads(json, JSON_DECODE_ANY, NULL) : json_null();
        free(json);
        int hs = item_write_hooks(req, AW_HOOK_PROP_DELETE, name, &cur, NULL);
        json_decref(cur);
        if (hs) return;
    }
    if (!aw_props_begin(req)) return;
    int r = delete_at(req, name, index);
    if (r == AW_ENOTFOUND) {
        STORE(req)->rollback(STORE(req));
        aw_req_reply_error(req, 404, "no item at index %lld", (long long)index);
    } else if (aw_props_finish(req, r, "list", true)) {
        aw_req_reply_empty(req, 204);
    }
}

/* ------------------------------------------------------------------ /metadata */

static void metadata(aw_req *req, const char *name)
{
    aw_store *s = STORE(req);
    if (!strcmp(req->method, "GET")) {
        aw_list_meta m = {0};
        int r = s->lists->meta(s, ACTOR(req), name, &m);
        if (r != AW_OK) {
            aw_props_reply_status(req, r, "list", true);
            return;
        }
        aw_req_reply_json(req, 200, json_pack("{s:s,s:s,s:s,s:I,s:b}", "name", name, "description", m.description,
                                              "explanation", m.explanation, "count", (json_int_t)m.count, "_list",
                                              1));
        aw_list_meta_free(&m);
        return;
    }
    if (strcmp(req->method, "PUT")) {
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    json_t *body = NULL;
    if (!aw_req_body_json(req, &body)) return;
    json_t *d = json_object_get(body, "description"), *e = json_object_get(body, "explanation");
    if (!json_is_object(body) || (!d && !e) || (d && !json_is_string(d)) || (e && !json_is_string(e))) {
        json_decref(body);
        aw_req_reply_error(req, 400, "description and/or explanation (strings) required");
        return;
    }
    if (aw_props_begin(req)) {
        int r = s->lists->set_meta(s, ACTOR(req), name, json_string_value(d), json_string_value(e));
        aw_list_meta m = {0};
        if (r == AW_OK) r = s->lists->meta(s, ACTOR(req), name, &m);
        if (r == AW_OK) {
            json_t *diff = aw_props_list_diff(name, "metadata", m.count, NULL, -1);
            if (diff) {
                json_object_set_new(diff, "description", json_string(m.description));
                json_object_set_new(diff, "explanation", json_string(m.explanation));
            }
            r = aw_props_changed(req, name, NULL, diff);
        }
        aw_list_meta_free(&m);
        if (aw_props_finish(req, r, "list", true)) aw_req_reply_empty(req, 204);
    }
    json_decref(body);
}

/* ------------------------------------------------------------------ /items */

static int items_obj(int64_t index, int64_t item_id, const char *json, void *ud)
{
    (void)item_id;
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    if (!v) v = json_string(json);
    json_t *e = json_pack("{s:I,s:o}", "index", (json_int_t)index, "item", v);
    return e && json_array_append_new(ud, e) == 0 ? 0 : AW_ENOMEM;
}

static bool get_index_field(json_t *body, int64_t *out)
{
    json_t *i = json_object_get(body, "item_index");
    if (!json_is_integer(i) || json_integer_value(i) < 0) return false;
    *out = json_integer_value(i);
    return true;
}

static void items(aw_req *req, const char *name)
{
    aw_store *s = STORE(req);
    if (!strcmp(req->method, "GET")) {
        json_t *arr = json_array();
        int r = arr ? s->lists->items(s, ACTOR(req), name, 0, -1, items_obj, arr) : AW_ENOMEM;
        if (r != AW_OK) {
            json_decref(arr);
            aw_props_reply_status(req, r, "list", true);
            return;
        }
        size_t n = json_array_size(arr);
        aw_req_reply_json(req, 200, json_pack("{s:o,s:I}", "items", arr, "count", (json_int_t)n));
        return;
    }
    if (strcmp(req->method, "POST")) {
        aw_req_reply_error(req, 405, "method not allowed");
        return;
    }
    json_t *body = NULL;
    if (!aw_req_body_json(req, &body)) return;
    const char *action = aw_json_str(body, "action");
    json_t *value = json_object_get(body, "item_value");
    int64_t index = -1;
    bool ok = json_is_object(body) && action;
    if (ok && !strcmp(action, "add")) ok = value != NULL;
    else if (ok && !strcmp(action, "update")) ok = value && get_index_field(body, &index);
    else if (ok && !strcmp(action, "delete")) ok = get_index_field(body, &index);
    else ok = false;
    char *txt = ok && value ? aw_json_dump(value) : NULL;
    if (!ok || (value && !txt)) {
        json_decref(body);
        free(txt);
        aw_req_reply_error(req, 400, "action add|update|delete with item_value / item_index required");
        return;
    }
    if (!aw_props_begin(req)) {
        json_decref(body);
        free(txt);
        return;
    }
    int r;
    bool appended = false;
    if (!strcmp(action, "add")) r = append_item(req, name, value, txt, &index);
    else if (!strcmp(action, "update")) {
        int64_t count = 0;
        r = list_count(req, name, &count);
        if (r == AW_OK && index >= count) r = AW_EINVAL;
        if (r == AW_OK) r = write_at(req, name, index, value, txt, &appended);
    } else {
        r = delete_at(req, name, index);
        if (r == AW_ENOTFOUND) r = AW_EINVAL;
    }
    if (r == AW_EINVAL) {
        s->rollback(s);
        aw_req_reply_error(req, 400, "index %lld is out of range", (long long)index);
    } else if (aw_props_finish(req, r, "list", true)) {
        if (!strcmp(action, "add"))
            aw_req_reply_json(req, 201, json_pack("{s:b,s:I}", "success", 1, "index", (json_int_t)index));
        else aw_req_reply_empty(req, 204);
    }
    json_decref(body);
    free(txt);
}

void aw_props_list_sub(aw_req *req, const char *name)
{
    if (req->nseg > 4) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    const char *sub = req->segs[3];
    if (!strcmp(sub, "metadata")) {
        metadata(req, name);
        return;
    }
    if (!strcmp(sub, "items")) {
        items(req, name);
        return;
    }
    int64_t i = aw_props_parse_index(sub);
    if (i < 0) {
        aw_req_reply_error(req, 404, "not found");
        return;
    }
    if (!strcmp(req->method, "GET")) reply_item(req, name, i);
    else if (!strcmp(req->method, "PUT")) put_at(req, name, i);
    else if (!strcmp(req->method, "DELETE")) delete_index(req, name, i);
    else aw_req_reply_error(req, 405, "method not allowed");
}

/* ------------------------------------------------------------------ bulk edit (§6.7.5) */

int aw_props_list_bulk(aw_req *req, const char *name, json_t *items_arr, json_t **echo, char why[200])
{
    *echo = NULL;
    int64_t count = 0;
    int r = list_count(req, name, &count);
    if (r != AW_OK) return r;
    aw_bulk_op *ops = NULL;
    size_t nops = 0, nupd = 0, ndel = 0;
    r = aw_props_bulk_plan(items_arr, count, &ops, &nops, &nupd, &ndel, why);
    if (r != AW_OK) return r;
    aw_store *s = STORE(req);
    int64_t length = count;
    for (size_t i = 0; r == AW_OK && i < nops; i++) {
        aw_bulk_op *op = &ops[i];
        char *txt = op->item ? aw_json_dump(op->item) : NULL;
        if (op->item && !txt) {
            r = AW_ENOMEM;
            break;
        }
        json_t *diff;
        if (op->kind == AW_BULK_UPDATE) {
            r = s->lists->update_at(s, ACTOR(req), name, op->index, txt);
            diff = aw_props_list_diff(name, "update", length, op->item, op->index);
        } else if (op->kind == AW_BULK_APPEND) {
            r = s->lists->insert_at(s, ACTOR(req), name, length, txt, NULL);
            length++;
            diff = aw_props_list_diff(name, "append", length, op->item, op->index);
        } else {
            r = s->lists->delete_at(s, ACTOR(req), name, op->index);
            length--;
            diff = aw_props_list_diff(name, "delete", length, NULL, op->index);
        }
        free(txt);
        if (r == AW_OK) r = aw_props_changed(req, name, NULL, diff);
        else json_decref(diff);
    }
    aw_props_bulk_free(ops, nops);
    if (r == AW_OK) {
        char msg[128];
        snprintf(msg, sizeof msg, "[Bulk update: %zu items updated, %zu items deleted]", nupd, ndel);
        *echo = json_string(msg);
    }
    return r;
}
