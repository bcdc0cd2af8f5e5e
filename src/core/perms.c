/* Fine-grained peer permissions (protocol.md §5.3, §8): trust-type defaults merged with per-trust
 * overrides. Evaluation works on borrowed documents (no allocation when there is no override). */
#include <stdlib.h>
#include <string.h>

#include "core/perms.h"
#include "util/time.h"

const char *const aw_perm_categories[AW_PERM_NCATEGORIES] = {"properties", "methods", "actions",
                                                            "tools",      "resources", "prompts"};

/* Keys of a rule block whose values are lists of strings. */
static const char *const rule_keys[] = {"patterns", "excluded_patterns", "operations", "allowed", "denied"};
#define N_RULE_KEYS (sizeof rule_keys / sizeof rule_keys[0])

bool aw_perms_is_category(const char *name)
{
    if (!name) return false;
    for (size_t i = 0; i < AW_PERM_NCATEGORIES; i++)
        if (!strcmp(aw_perm_categories[i], name)) return true;
    return false;
}

static bool is_union_key(const char *key) { return !strcmp(key, "patterns") || !strcmp(key, "excluded_patterns"); }

/* ------------------------------------------------------------------------------------------- glob */

/* Length of the UTF-8 sequence starting at s (1 for stray or invalid bytes). */
static size_t u8len(const char *s)
{
    unsigned char c = (unsigned char)*s;
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80) return 1;
    return n;
}

/* Iterative wildcard match with single-star backtracking. `prefix`: a fully consumed pattern matches
 * whatever text remains. */
static bool glob_match(const char *p, const char *t, bool prefix)
{
    const char *star_p = NULL, *star_t = NULL;
    while (*t) {
        if (!*p && prefix) return true;
        if (*p == '*') {
            while (*p == '*') p++;
            if (!*p) return true; /* trailing star swallows the rest */
            star_p = p;
            star_t = t;
            continue;
        }
        if (*p == '?') {
            p++;
            t += u8len(t);
            continue;
        }
        if (*p && *p == *t) {
            p++;
            t++;
            continue;
        }
        if (!star_p) return false;
        star_t += u8len(star_t);
        p = star_p;
        t = star_t;
    }
    while (*p == '*') p++;
    return !*p;
}

bool aw_perms_glob(const char *pattern, const char *text)
{
    if (!pattern || !text) return false;
    size_t n = strlen(pattern);
    bool prefix = n >= 3 && !strcmp(pattern + n - 3, "://");
    return glob_match(pattern, text, prefix);
}

/* ------------------------------------------------------------------------------------- evaluation */

static const json_t *block_of(const json_t *doc, const char *category)
{
    if (!json_is_object(doc)) return NULL;
    const json_t *b = json_object_get(doc, category);
    return json_is_object(b) ? b : NULL;
}

static const json_t *list_of(const json_t *block, const char *key)
{
    if (!block) return NULL;
    const json_t *l = json_object_get(block, key);
    return json_is_array(l) ? l : NULL;
}

/* A replaced key: the override's value when it has the key, else the default's. */
static const json_t *pick(const json_t *d, const json_t *o, const char *key)
{
    const json_t *l = list_of(o, key);
    return l ? l : list_of(d, key);
}

static bool any_glob(const json_t *list, const char *t)
{
    size_t i;
    const json_t *v;
    if (!list) return false;
    json_array_foreach(list, i, v) {
        if (json_is_string(v) && aw_perms_glob(json_string_value(v), t)) return true;
    }
    return false;
}

static bool has_string(const json_t *list, const char *s)
{
    size_t i;
    const json_t *v;
    if (!list) return false;
    json_array_foreach(list, i, v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    }
    return false;
}

static bool nonempty(const json_t *list) { return list && json_array_size(list) > 0; }

aw_perm_decision aw_perms_evaluate(const json_t *defaults, const json_t *override, const char *category,
                                   const char *target, const char *op)
{
    if (!category) return AW_PERM_NOT_FOUND;
    const char *t = target ? target : "";
    const json_t *d = block_of(defaults, category), *o = block_of(override, category);
    if (!d && !o) return AW_PERM_NOT_FOUND;
    if (any_glob(pick(d, o, "denied"), t)) return AW_PERM_DENIED;
    if (any_glob(pick(d, o, "allowed"), t)) return AW_PERM_ALLOWED;
    const json_t *ops = pick(d, o, "operations");
    bool patterns = nonempty(list_of(d, "patterns")) || nonempty(list_of(o, "patterns"));
    /* An explicitly empty operations list takes every operation away (fail closed) rather than
     * falling back to the coarse ACL. */
    if (patterns && ops) {
        if (!op || !has_string(ops, op)) return AW_PERM_DENIED;
        if (any_glob(list_of(d, "excluded_patterns"), t) || any_glob(list_of(o, "excluded_patterns"), t))
            return AW_PERM_DENIED;
        if (any_glob(list_of(d, "patterns"), t) || any_glob(list_of(o, "patterns"), t)) return AW_PERM_ALLOWED;
        return *t ? AW_PERM_DENIED : AW_PERM_NOT_FOUND;
    }
    return AW_PERM_NOT_FOUND;
}

/* ------------------------------------------------------------------------------------------ merge */

static json_t *union_lists(const json_t *a, const json_t *b)
{
    json_t *out = json_deep_copy(a);
    size_t i;
    const json_t *v;
    json_array_foreach(b, i, v) {
        bool dup = false;
        size_t j;
        const json_t *w;
        json_array_foreach(out, j, w) {
            if (json_equal(v, w)) {
                dup = true;
                break;
            }
        }
        if (!dup) json_array_append_new(out, json_deep_copy(v));
    }
    return out;
}

json_t *aw_perms_merge(const json_t *defaults, const json_t *override)
{
    json_t *out = json_object();
    if (!out) return NULL;
    for (size_t c = 0; c < AW_PERM_NCATEGORIES; c++) {
        const char *cat = aw_perm_categories[c];
        const json_t *d = block_of(defaults, cat), *o = block_of(override, cat);
        if (!d && !o) continue;
        json_t *m = d ? json_deep_copy(d) : json_object();
        if (o) {
            const char *key;
            const json_t *v;
            json_object_foreach((json_t *)o, key, v) {
                const json_t *dv = json_object_get(m, key);
                if (is_union_key(key) && json_is_array(dv) && json_is_array(v))
                    json_object_set_new(m, key, union_lists(dv, v));
                else
                    json_object_set_new(m, key, json_deep_copy(v));
            }
        }
        json_object_set_new(out, cat, m);
    }
    return out;
}

/* -------------------------------------------------------------------------------------- storage */

int aw_perms_override_get(aw_app *app, const char *actor, const char *peerid, json_t **out)
{
    *out = NULL;
    aw_store *s = aw_app_store(app);
    char *raw = NULL;
    int r = s->trusts->perm_get(s, actor, peerid, &raw);
    if (r != AW_OK) {
        free(raw);
        return r;
    }
    json_t *v = raw ? json_loads(raw, 0, NULL) : NULL;
    free(raw);
    if (!json_is_object(v)) {
        json_decref(v);
        AW_ERROR(&app->log, "permission override of %s/%s is not a JSON object", actor, peerid);
        return AW_ESTORAGE;
    }
    /* An override written by another path in the §8.1 shorthand still means what it says. */
    json_t *pl = json_object_get(v, "properties");
    if (json_is_array(pl))
        json_object_set_new(v, "properties", json_pack("{s:O,s:[s]}", "patterns", pl, "operations", "read"));
    *out = v;
    return AW_OK;
}

json_t *aw_perms_trust_type_defaults(const aw_app *app, const char *name)
{
    const json_t *d = aw_trust_type_permissions(app, name);
    return d ? json_deep_copy(d) : NULL;
}

int aw_perms_effective_ex(aw_app *app, const char *actor, const char *peerid, const char *relationship,
                          json_t **out, bool *custom)
{
    *out = NULL;
    if (custom) *custom = false;
    json_t *ovr = NULL;
    int r = aw_perms_override_get(app, actor, peerid, &ovr);
    if (r != AW_OK && r != AW_ENOTFOUND) return r;
    json_t *m = aw_perms_merge(aw_trust_type_permissions(app, relationship), ovr);
    json_decref(ovr);
    if (!m) return AW_ENOMEM;
    for (size_t c = 0; c < AW_PERM_NCATEGORIES; c++)
        if (!json_object_get(m, aw_perm_categories[c])) json_object_set_new(m, aw_perm_categories[c], json_object());
    if (custom) *custom = r == AW_OK;
    *out = m;
    return AW_OK;
}

int aw_perms_effective(aw_app *app, const char *actor, const char *peerid, const char *relationship,
                       json_t **out)
{
    return aw_perms_effective_ex(app, actor, peerid, relationship, out, NULL);
}

aw_perm_decision aw_perms_check(aw_app *app, const char *actor_id, const aw_principal *who, const char *category,
                                const char *target, const char *op, int *status)
{
    if (status) *status = AW_OK;
    if (!who || who->kind != AW_WHO_PEER) return AW_PERM_NOT_FOUND;
    json_t *ovr = NULL;
    int r = aw_perms_override_get(app, actor_id, who->peerid, &ovr);
    if (r == AW_ENOTFOUND) {
        ovr = NULL;
    } else if (r != AW_OK) {
        if (status) *status = r;
        return AW_PERM_DENIED; /* fail closed */
    }
    aw_perm_decision d = aw_perms_evaluate(aw_trust_type_permissions(app, who->relationship), ovr, category, target, op);
    json_decref(ovr);
    return d;
}

/* ------------------------------------------------------------------------------------- updates */

static bool string_list(const json_t *v)
{
    size_t i;
    const json_t *e;
    if (!json_is_array(v)) return false;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) return false;
    }
    return true;
}

json_t *aw_perms_normalize_update(const json_t *body, const char **why)
{
    static const char *dummy;
    if (!why) why = &dummy;
    if (!json_is_object(body)) {
        *why = "permissions must be a JSON object";
        return NULL;
    }
    json_t *out = json_object();
    for (size_t c = 0; c < AW_PERM_NCATEGORIES; c++) {
        const char *cat = aw_perm_categories[c];
        const json_t *v = json_object_get(body, cat);
        if (!v) continue;
        if (c == 0 && json_is_array(v)) { /* properties shorthand */
            if (!string_list(v)) {
                *why = "properties patterns must be strings";
                goto bad;
            }
            json_object_set_new(out, cat, json_pack("{s:O,s:[s]}", "patterns", v, "operations", "read"));
            continue;
        }
        if (!json_is_object(v)) {
            *why = "each permission category must be an object";
            goto bad;
        }
        for (size_t k = 0; k < N_RULE_KEYS; k++) {
            const json_t *l = json_object_get(v, rule_keys[k]);
            if (l && !string_list(l)) {
                *why = "rule lists must be arrays of strings";
                goto bad;
            }
        }
        json_object_set_new(out, cat, json_deep_copy(v));
    }
    const json_t *notes = json_object_get(body, "notes");
    if (notes) {
        if (!json_is_string(notes)) {
            *why = "notes must be a string";
            goto bad;
        }
        json_object_set_new(out, "notes", json_deep_copy(notes));
    }
    return out;
bad:
    json_decref(out);
    return NULL;
}

int aw_perms_override_apply(aw_app *app, const char *actor, const char *peerid, const char *relationship,
                            const json_t *update, const char *by, bool *created)
{
    aw_store *s = aw_app_store(app);
    json_t *doc = NULL;
    bool fresh = false;
    char *raw = NULL;
    if (created) *created = false;
    if (!by) by = "creator";
    int r = s->begin(s, true);
    if (r != AW_OK) return r;
    aw_trust_rec tr;
    r = s->trusts->get(s, actor, peerid, &tr);
    if (r != AW_OK) goto fail;
    bool same = !relationship || !strcmp(tr.relationship, relationship);
    aw_trust_rec_free(&tr);
    if (!same) {
        r = AW_ENOTFOUND;
        goto fail;
    }
    r = aw_perms_override_get(app, actor, peerid, &doc);
    if (r == AW_ENOTFOUND) {
        fresh = true;
        doc = json_object();
        r = doc ? AW_OK : AW_ENOMEM;
    }
    if (r != AW_OK) goto fail;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)update, key, v) {
        if (aw_perms_is_category(key) || !strcmp(key, "notes")) json_object_set_new(doc, key, json_deep_copy(v));
    }
    if (!json_is_string(json_object_get(doc, "created_by"))) json_object_set_new(doc, "created_by", json_string(by));
    if (!json_is_string(json_object_get(doc, "notes"))) json_object_set_new(doc, "notes", json_string(""));
    char now[32];
    aw_time_iso(now);
    json_object_set_new(doc, "updated_at", json_string(now));
    raw = json_dumps(doc, JSON_COMPACT);
    if (!raw) {
        r = AW_ENOMEM;
        goto fail;
    }
    r = s->trusts->perm_set(s, actor, peerid, raw);
    free(raw);
    if (r != AW_OK) goto fail;
    r = s->commit(s);
    if (r != AW_OK) goto fail;
    json_decref(doc);
    if (created) *created = fresh;
    return AW_OK;
fail:
    s->rollback(s);
    json_decref(doc);
    return r;
}
