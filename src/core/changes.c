/* Change registration: for every publisher subscription whose scope overlaps a change, shape the diff
 * (protocol.md §9.6), filter it by the subscriber's read permission, take the next sequence number and
 * store the diff (the subscription's delivery cursor then has it waiting) — all inside the caller's write transaction (sdk-api.md §6.1). */
#include <stdlib.h>
#include <string.h>

#include "core/changes.h"
#include "core/diff.h"
#include "core/perms.h"
#include "core/props.h"
#include "core/trust_types.h"
#include "peer/delivery.h"
#include "util/json.h"
#include "util/str.h"
#include "util/time.h"

/* Subscriptions that see a change the same way (same scope, relationship and permission override) get
 * the same diff text: it is shaped, filtered and serialised once per change (the common case is every
 * subscriber of a collection seeing one diff). */
#define SHAPE_CACHE 8

typedef struct shaped {
    char *subtarget, *resource, *relationship, *override; /* the key; override "" when there is none */
    char *txt; /* the diff as stored; NULL: nothing to send to such subscribers */
} shaped;

typedef struct reg_ctx {
    aw_app *app;
    const char *actor;
    const char *target;
    const char *c_sub;
    const char *c_res;
    json_t *blob;
    int status;
    int registered;
    size_t made;
    char ts[32];
    shaped cache[SHAPE_CACHE];
    size_t ncache;
} reg_ctx;

/* Drop what the subscriber may not read (its trust type's defaults merged with its override). Returns
 * the (possibly reduced) diff, or NULL when nothing is left. */
static json_t *filter_by_permission(reg_ctx *c, const aw_sub_rec *sub, const char *relationship, json_t *ovr,
                                    json_t *diff)
{
    if (strcmp(c->target, "properties") != 0) return diff;
    const json_t *defaults = aw_trust_type_permissions(c->app, relationship);
    const char *name = *sub->subtarget ? sub->subtarget : c->c_sub;
    if (name && *name) {
        if (aw_perms_evaluate(defaults, ovr, "properties", name, "read") == AW_PERM_DENIED) {
            json_decref(diff);
            return NULL;
        }
        return diff;
    }
    /* A whole-collection change seen by a whole-collection subscription: filter key by key. */
    if (!json_is_object(diff)) return diff;
    const char *k;
    json_t *v, *tmp;
    json_object_foreach_safe(diff, tmp, k, v) {
        if (aw_perms_evaluate(defaults, ovr, "properties", k, "read") == AW_PERM_DENIED) json_object_del(diff, k);
    }
    if (json_object_size(diff) == 0) {
        json_decref(diff);
        return NULL;
    }
    return diff;
}

/* The diff text this subscription gets (shaped to its scope, filtered by its read permission), in *txt
 * (malloc'd; NULL when it sees nothing of the change). */
static int shape_for(reg_ctx *c, const aw_sub_rec *sub, const char *relationship, const char *override_json,
                     char **txt)
{
    *txt = NULL;
    json_t *diff = aw_diff_shape(sub->subtarget, sub->resource, c->c_sub, c->c_res, c->blob);
    if (!diff) return AW_OK;
    json_t *ovr = override_json ? json_loads(override_json, 0, NULL) : NULL;
    if (override_json && !ovr) {
        json_decref(diff);
        return AW_ESTORAGE; /* an unreadable override fails closed */
    }
    diff = filter_by_permission(c, sub, relationship, ovr, diff);
    json_decref(ovr);
    if (!diff) return AW_OK;
    *txt = aw_json_dump(diff);
    json_decref(diff);
    return *txt ? AW_OK : AW_ENOMEM;
}

static void shaped_free(shaped *e)
{
    free(e->subtarget);
    free(e->resource);
    free(e->relationship);
    free(e->override);
    free(e->txt);
}

/* shape_for through the per-change cache; *txt is borrowed from the cache or owned (*own). The key is
 * compared field by field: this runs once per subscription per change. */
static int shape_cached(reg_ctx *c, const aw_sub_rec *sub, const char *relationship, const char *override_json,
                        const char **txt, char **own)
{
    *own = NULL;
    const char *ovr = override_json ? override_json : "";
    for (size_t i = 0; i < c->ncache; i++) {
        const shaped *e = &c->cache[i];
        if (!strcmp(e->subtarget, sub->subtarget) && !strcmp(e->resource, sub->resource) &&
            !strcmp(e->relationship, relationship) && !strcmp(e->override, ovr)) {
            *txt = e->txt;
            return AW_OK;
        }
    }
    char *made = NULL;
    int r = shape_for(c, sub, relationship, override_json, &made);
    if (r != AW_OK || c->ncache == SHAPE_CACHE) {
        *txt = *own = made;
        return r;
    }
    shaped e = {strdup(sub->subtarget), strdup(sub->resource), strdup(relationship), strdup(ovr), made};
    if (!e.subtarget || !e.resource || !e.relationship || !e.override) {
        e.txt = NULL;
        shaped_free(&e);
        *txt = *own = made;
        return AW_OK;
    }
    c->cache[c->ncache++] = e;
    *txt = made;
    return AW_OK;
}

static int register_one(const aw_sub_rec *sub, const char *relationship, bool approved, const char *override_json,
                        void *ud)
{
    reg_ctx *c = ud;
    if (!relationship) return AW_OK; /* the trust is gone: nobody to tell */
    const char *txt;
    char *own;
    int r = shape_cached(c, sub, relationship, override_json, &txt, &own);
    if (r != AW_OK || !txt) return r;
    aw_store *s = aw_app_store(c->app);
    int64_t seq = 0;
    /* The record was read in this transaction; a diff to deliver starts the cursor's wait if it was idle. */
    bool wake = !sub->send_due && strcmp(sub->granularity, "none") != 0;
    r = s->subs->next_seq_after(s, c->actor, sub->subid, sub->sequence, wake ? aw_time_ms() : 0, &seq);
    if (r == AW_OK) r = s->subs->diff_add(s, c->actor, sub->subid, seq, c->ts, txt);
    if (r == AW_ECONFLICT) { /* the number was taken after the record was read (never expected): take the next */
        r = s->subs->next_seq(s, c->actor, sub->subid, &seq);
        if (r == AW_OK) r = s->subs->diff_add(s, c->actor, sub->subid, seq, c->ts, txt);
    }
    free(own);
    if (r == AW_OK) c->made++;
    bool flagged = false;
    int64_t cap = c->app->cfg.diff_cap ? c->app->cfg.diff_cap : 10000;
    if (r == AW_OK && seq > cap) r = s->subs->diff_trim(s, c->actor, sub->subid, seq, cap, &flagged);
    if (flagged)
        AW_INFO(&c->app->log, "subscription %s: undelivered diffs beyond the cap pruned; a resync follows", sub->subid);
    /* The diff needs no job of its own: the record's sequence now runs ahead of its delivery cursor. */
    if (r == AW_OK && strcmp(sub->granularity, "none") != 0) c->registered++;
    return r;
}

/* A property as a collection read shows it (so a resync equals GET /properties, as diffs do). */
static int prop_into(const char *name, const char *value, bool is_json, void *ud)
{
    json_object_set_new(ud, name, aw_props_value_json(value, is_json));
    return AW_OK;
}

static bool peer_lacks_resync(aw_app *app, const char *actor, const char *peer)
{
    aw_trust_rec t;
    if (aw_app_store(app)->trusts->get(aw_app_store(app), actor, peer, &t) != AW_OK) return false;
    /* Unknown tags count as support: deployed Ref peers advertise subscriptionresync. */
    bool lacks = t.peer_supported && !aw_list_has(t.peer_supported, "subscriptionresync");
    aw_trust_rec_free(&t);
    return lacks;
}

int aw_changes_queue_resync(aw_app *app, const aw_sub_rec *sub, json_t **full, int64_t *seq_out, bool *queued)
{
    aw_store *s = aw_app_store(app);
    int64_t seq = 0;
    if (queued) *queued = false;
    int r = s->subs->next_seq(s, sub->actor, sub->subid, &seq);
    if (r != AW_OK) return r;
    if (seq_out) *seq_out = seq;
    if (!strcmp(sub->granularity, "none")) return AW_OK; /* pollers see the sequence move and re-read */
    aw_outbox_job j = {.actor = sub->actor, .subid = sub->subid, .peerid = sub->peerid, .seq = seq,
                       .kind = "resync", .due_ms = aw_time_ms()};
    if (peer_lacks_resync(app, sub->actor, sub->peerid)) {
        /* Fallback: the full state stored as a diff and sent in low form (protocol.md §9.9). */
        if (!*full) {
            *full = json_object();
            if (!*full) return AW_ENOMEM;
            if (!strcmp(sub->target, "properties")) r = s->props->each(s, sub->actor, prop_into, *full);
            if (r != AW_OK) return r;
        }
        json_t *d = aw_diff_shape(sub->subtarget, sub->resource, "", "", *full);
        char *txt = aw_json_dump(d ? d : json_object());
        json_decref(d);
        char ts[32];
        aw_time_iso(ts);
        r = txt ? s->subs->diff_add(s, sub->actor, sub->subid, seq, ts, txt) : AW_ENOMEM;
        free(txt);
        if (r != AW_OK) return r;
        j.kind = "diff_low";
    }
    r = s->outbox->add(s, &j);
    /* The diffs before it are superseded: the cursor resumes after the resync. */
    if (r == AW_OK) r = s->outbox->cursor_skip(s, sub->actor, sub->subid, seq);
    if (r == AW_OK && queued) *queued = true;
    return r;
}

int aw_changes_register(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                        const char *resource, json_t *blob)
{
    return aw_changes_register_n(app, actor_id, target, subtarget, resource, blob, NULL);
}

int aw_changes_register_n(aw_app *app, const char *actor_id, const char *target, const char *subtarget,
                          const char *resource, json_t *blob, size_t *n_diffs)
{
    if (n_diffs) *n_diffs = 0;
    reg_ctx c = {app, actor_id, target, subtarget, resource, blob, AW_OK, 0, 0, "", {{0}}, 0};
    aw_time_iso(c.ts);
    /* A suspended target registers nothing; its subscribers get a resync on resume. */
    int r = aw_app_store(app)->subs->is_suspended(aw_app_store(app), actor_id, target, subtarget ? subtarget : "");
    if (r == AW_OK) return AW_OK;
    if (r != AW_ENOTFOUND) return r;
    r = aw_app_store(app)->subs->each_for_change(aw_app_store(app), actor_id, target, register_one, &c);
    for (size_t i = 0; i < c.ncache; i++) shaped_free(&c.cache[i]);
    if (r == AW_OK && n_diffs) *n_diffs = c.made;
    if (r == AW_OK && c.registered > 0) aw_delivery_changed(app);
    return r;
}
