/* List properties through the SDK (include/actingweb/properties.h): the store's list vtable, §9.7 diffs
 * from core/props.c through aw_changes_register in the write's transaction, as http/properties_lists.c. */
#include <stdlib.h>
#include <string.h>

#include <actingweb/properties.h>

#include "core/changes.h"
#include "core/props.h"
#include "core/sdk_internal.h"
#include "util/json.h"

enum { L_CREATE, L_INSERT, L_GET, L_ITEMS, L_UPDATE, L_DEL_ITEM, L_DEL, L_META, L_NAMES };

typedef struct list_call {
    aw_sdk_call call;
    aw_actor *a;
    int op;
    const char *name, *desc, *expl;
    int64_t index, count; /* index < 0 with L_INSERT = append */
    json_t *item;
    unsigned flags;
    int64_t item_id;
    json_t *out;
} list_call;

static int diff(list_call *c, const char *op, int64_t length, json_t *item, int64_t index)
{
    if (c->flags & AW_PROP_NO_NOTIFY) return AW_OK;
    json_t *d = aw_props_list_diff(c->name, op, length, item, index);
    if (!d) return AW_ENOMEM;
    int r = aw_changes_register(c->call.app, c->a->rec.id, "properties", c->name, NULL, d);
    json_decref(d);
    return r;
}

static int item_cb(int64_t index, int64_t item_id, const char *json, void *ud)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    if (!v) v = json_string(json);
    json_t *e = json_pack("{s:I,s:I,s:o}", "index", (json_int_t)index, "id", (json_int_t)item_id, "item", v);
    return e && json_array_append_new(ud, e) == 0 ? 0 : AW_ENOMEM;
}

static int name_cb(const char *name, const aw_list_meta *meta, void *ud)
{
    return json_array_append_new(ud, json_string(name)) == 0 ? 0 : AW_ENOMEM;
}

static void list_start(aw_sdk_call *call)
{
    list_call *c = (list_call *)call;
    aw_store *s = aw_app_store(call->app);
    const char *id = c->a->rec.id;
    int r = AW_OK;
    bool tx = c->op == L_CREATE || c->op == L_INSERT || c->op == L_UPDATE || c->op == L_DEL_ITEM || c->op == L_DEL;
    if (tx && (r = s->begin(s, true)) != AW_OK) {
        aw_sdk_complete(call, r);
        return;
    }
    aw_list_meta m = {0};
    char *txt = NULL;
    if (c->op != L_CREATE && c->op != L_NAMES) r = s->lists->meta(s, id, c->name, &m);
    if (r == AW_OK && c->item && !(txt = aw_json_dump(c->item))) r = AW_ENOMEM;
    if (r == AW_OK) switch (c->op) {
        case L_CREATE: {
            char *v = NULL;
            int pr = s->props->get(s, id, c->name, &v, NULL);
            free(v);
            if (pr == AW_OK) r = AW_ECONFLICT;
            else if (pr != AW_ENOTFOUND) r = pr;
            else r = s->lists->create(s, id, c->name, c->desc ? c->desc : "", c->expl ? c->expl : "");
            break;
        }
        case L_INSERT: {
            bool append = c->index < 0 || c->index == m.count;
            int64_t at = append ? m.count : c->index;
            if (at > m.count) {
                r = AW_ENOTFOUND;
                break;
            }
            r = s->lists->insert_at(s, id, c->name, at, txt, &c->item_id);
            if (r == AW_OK) r = diff(c, append ? "append" : "insert", m.count + 1, c->item, at);
            break;
        }
        case L_GET: {
            char *j = NULL;
            r = s->lists->get_at(s, id, c->name, c->index, &c->item_id, &j);
            if (r == AW_OK) {
                c->out = json_loads(j, JSON_DECODE_ANY, NULL);
                if (!c->out) c->out = json_string(j);
                if (!c->out) r = AW_ENOMEM;
            }
            free(j);
            break;
        }
        case L_ITEMS:
            c->out = json_array();
            r = c->out ? s->lists->items(s, id, c->name, c->index, c->count, item_cb, c->out) : AW_ENOMEM;
            break;
        case L_UPDATE:
            if (c->index < 0 || c->index >= m.count) r = AW_ENOTFOUND;
            else r = s->lists->update_at(s, id, c->name, c->index, txt);
            if (r == AW_OK) r = diff(c, "update", m.count, c->item, c->index);
            break;
        case L_DEL_ITEM:
            if (c->index < 0 || c->index >= m.count) r = AW_ENOTFOUND;
            else r = s->lists->delete_at(s, id, c->name, c->index);
            if (r == AW_OK) r = diff(c, "delete", m.count - 1, NULL, c->index);
            break;
        case L_DEL:
            r = s->lists->del(s, id, c->name);
            if (r == AW_OK) r = diff(c, "delete_all", 0, NULL, -1);
            break;
        case L_META:
            c->out = json_pack("{s:s,s:s,s:I}", "description", m.description ? m.description : "", "explanation",
                               m.explanation ? m.explanation : "", "count", (json_int_t)m.count);
            if (!c->out) r = AW_ENOMEM;
            break;
        case L_NAMES:
            c->out = json_array();
            r = c->out ? s->lists->each(s, id, name_cb, c->out) : AW_ENOMEM;
            break;
        }
    free(txt);
    aw_list_meta_free(&m);
    if (tx) {
        if (r == AW_OK) r = s->commit(s);
        else s->rollback(s);
    }
    if (r != AW_OK) {
        json_decref(c->out);
        c->out = NULL;
    }
    aw_sdk_complete(call, r);
}

static int run(aw_actor *a, list_call *c)
{
    if (!a) return AW_EINVAL;
    if (c->op != L_NAMES && aw_props_name_check(c->name) != 0) return AW_EINVAL;
    c->a = a;
    return aw_sdk_exec(a->app, &c->call, list_start);
}

int aw_list_create(aw_actor *a, const char *name, const char *desc, const char *expl, unsigned flags)
{
    list_call c = {.op = L_CREATE, .name = name, .desc = desc, .expl = expl, .flags = flags};
    return run(a, &c);
}

int aw_list_insert(aw_actor *a, const char *name, int64_t index, json_t *item, int64_t *item_id, unsigned flags)
{
    if (!item) return AW_EINVAL;
    list_call c = {.op = L_INSERT, .name = name, .index = index, .item = item, .flags = flags};
    int r = run(a, &c);
    if (r == AW_OK && item_id) *item_id = c.item_id;
    return r;
}

int aw_list_append(aw_actor *a, const char *name, json_t *item, int64_t *item_id, unsigned flags)
{
    return aw_list_insert(a, name, -1, item, item_id, flags);
}

int aw_list_get(aw_actor *a, const char *name, int64_t index, json_t **out, int64_t *item_id)
{
    if (!out) return AW_EINVAL;
    *out = NULL;
    if (index < 0) return AW_ENOTFOUND;
    list_call c = {.op = L_GET, .name = name, .index = index};
    int r = run(a, &c);
    if (r == AW_OK) {
        *out = c.out;
        if (item_id) *item_id = c.item_id;
    }
    return r;
}

int aw_list_items(aw_actor *a, const char *name, int64_t start, int64_t count, json_t **out)
{
    if (!out || start < 0) return AW_EINVAL;
    *out = NULL;
    list_call c = {.op = L_ITEMS, .name = name, .index = start, .count = count < 0 ? -1 : count};
    int r = run(a, &c);
    if (r == AW_OK) *out = c.out;
    return r;
}

int aw_list_update(aw_actor *a, const char *name, int64_t index, json_t *item, unsigned flags)
{
    if (!item) return AW_EINVAL;
    list_call c = {.op = L_UPDATE, .name = name, .index = index, .item = item, .flags = flags};
    return run(a, &c);
}

int aw_list_delete_item(aw_actor *a, const char *name, int64_t index, unsigned flags)
{
    list_call c = {.op = L_DEL_ITEM, .name = name, .index = index, .flags = flags};
    return run(a, &c);
}

int aw_list_delete(aw_actor *a, const char *name, unsigned flags)
{
    list_call c = {.op = L_DEL, .name = name, .flags = flags};
    return run(a, &c);
}

int aw_list_get_meta(aw_actor *a, const char *name, json_t **out)
{
    if (!out) return AW_EINVAL;
    *out = NULL;
    list_call c = {.op = L_META, .name = name};
    int r = run(a, &c);
    if (r == AW_OK) *out = c.out;
    return r;
}

int aw_list_names(aw_actor *a, json_t **out)
{
    if (!out) return AW_EINVAL;
    *out = NULL;
    list_call c = {.op = L_NAMES};
    int r = run(a, &c);
    if (r == AW_OK) *out = c.out;
    return r;
}
