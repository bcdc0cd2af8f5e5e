/* Trust relationships (protocol.md §7): initiate, accept, modify/approve, delete. Every step that needs
 * a peer runs through the peer engine on the loop; nothing here blocks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hooks.h"
#include "core/perms.h"
#include "core/trust.h"
#include "peer/delivery.h"
#include "util/json.h"
#include "util/rand.h"
#include "util/str.h"
#include "util/time.h"

typedef struct top {
    aw_app *app;
    char actor_id[64];
    char *actor_url;
    char *url;             /* initiate: the peer root */
    char *rel;
    char *desc;
    char *peer_verify;     /* accept: the requester's `verify` */
    aw_trust_rec rec;      /* the working record */
    bool have_rec;
    aw_trust_outcome out;
    char msg[256];
    aw_trust_done cb;
    void *ud;
    aw_event_origin origin;      /* for lifecycle hooks (default http) */
} top;

static void top_free(top *op)
{
    free(op->actor_url);
    free(op->url);
    free(op->rel);
    free(op->desc);
    free(op->peer_verify);
    aw_trust_rec_free(&op->rec);
    free(op);
}

static top *top_new(aw_app *app, const char *actor_id, aw_trust_done cb, void *ud)
{
    if (!actor_id || strlen(actor_id) >= 64 || !cb) return NULL;
    top *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    op->app = app;
    aw_strlcpy(op->actor_id, actor_id, sizeof op->actor_id);
    op->actor_url = aw_app_actor_url(app, actor_id);
    op->cb = cb;
    op->ud = ud;
    op->out.peer_status = AW_OK;
    if (!op->actor_url) {
        free(op);
        return NULL;
    }
    return op;
}

json_t *aw_trust_rec_json(const aw_trust_rec *r)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:s}", "id", r->actor ? r->actor : "",
                          "peerid", r->peerid ? r->peerid : "", "baseuri", r->baseuri ? r->baseuri : "", "type",
                          r->type ? r->type : "", "relationship", r->relationship ? r->relationship : "",
                          "secret", r->secret ? r->secret : "", "desc", r->desc ? r->desc : "", "approved",
                          r->approved, "peer_approved", r->peer_approved, "verified", r->verified,
                          "verification_token", r->verification_token ? r->verification_token : "");
    if (o && r->created_at) json_object_set_new(o, "created_at", json_string(r->created_at));
    if (o && r->peer_supported) json_object_set_new(o, "aw_supported", json_string(r->peer_supported));
    return o;
}

static int collect(const aw_trust_rec *r, void *ud)
{
    json_t *j = aw_trust_rec_json(r);
    if (!j) return AW_ENOMEM;
    return json_array_append_new((json_t *)ud, j) ? AW_ENOMEM : AW_OK;
}

int aw_trust_list_json(aw_app *app, const char *actor_id, const aw_trust_filter *f, json_t **out)
{
    aw_trust_filter none = {0};
    json_t *a = json_array();
    if (!a) return AW_ENOMEM;
    int r = aw_app_store(app)->trusts->each(aw_app_store(app), actor_id, f ? f : &none, collect, a);
    if (r != AW_OK) {
        json_decref(a);
        return r;
    }
    *out = a;
    return AW_OK;
}

int aw_trust_set_peer_approved(aw_app *app, const char *actor_id, const char *peerid)
{
    aw_store *s = aw_app_store(app);
    aw_trust_rec t;
    int r = s->trusts->get(s, actor_id, peerid, &t);
    if (r != AW_OK) return r;
    if (!t.peer_approved) {
        t.peer_approved = true;
        r = s->trusts->upsert(s, &t);
        if (r == AW_OK && t.approved)
            aw_hooks_fire_trust(app, AW_EV_TRUST_FULLY_APPROVED_REMOTE, AW_ORIGIN_HTTP, &t, true);
    }
    aw_trust_rec_free(&t);
    return r;
}

/* ------------------------------------------------------------------ completion */

static void deliver(aw_app *app, void *ud)
{
    top *op = ud;
    json_t *rec = op->have_rec ? aw_trust_rec_json(&op->rec) : NULL;
    op->out.record = rec;
    op->out.message = op->msg[0] ? op->msg : aw_strerror(op->out.status);
    op->cb(&op->out, op->ud);
    json_decref(rec);
    top_free(op);
}

/* Complete the operation on a later loop turn (never inside a start call). */
static void finish(top *op, int status)
{
    op->out.status = status;
    if (aw_app_post(op->app, deliver, op) != AW_OK) deliver(op->app, op); /* shutting down: we are on the loop */
}

static void set_msg(top *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(top *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->msg, sizeof op->msg, fmt, ap);
    va_end(ap);
}

/* AW_ECONFLICT when `secret` belongs to a trust of the actor with another peer than `peerid`. */
static int secret_taken(aw_app *app, const char *actor_id, const char *secret, const char *peerid)
{
    aw_trust_rec other;
    int r = aw_app_store(app)->trusts->get_by_secret(aw_app_store(app), actor_id, secret, &other);
    if (r == AW_ENOTFOUND) return AW_OK;
    if (r != AW_OK) return r;
    bool clash = strcmp(other.peerid, peerid) != 0;
    aw_trust_rec_free(&other);
    return clash ? AW_ECONFLICT : AW_OK;
}

/* A fresh 40-hex secret not used by any other trust of the actor. */
static int new_unique_secret(aw_app *app, const char *actor_id, char out[41])
{
    for (int i = 0; i < 8; i++) {
        if (aw_new_token(out) != 0) return AW_ESTORAGE;
        aw_trust_rec t;
        int r = aw_app_store(app)->trusts->get_by_secret(aw_app_store(app), actor_id, out, &t);
        if (r == AW_ENOTFOUND) return AW_OK;
        if (r != AW_OK) return r;
        aw_trust_rec_free(&t);
    }
    return AW_ECONFLICT;
}

static void take_peer_answer(top *op, const aw_result *res)
{
    op->out.http_status = aw_result_http_status(res);
    op->out.remote = aw_result_remote_state(res);
}

/* {root}/trust/{rel}/{peer}: the peer-specific trust URL at the other side. */
static char *trust_url(const char *root, const char *rel, const char *peer)
{
    aw_buf u = AW_BUF_INIT;
    aw_buf_printf(&u, "%s/trust/%s/%s", root, rel, peer);
    return aw_buf_take(&u);
}

/* ------------------------------------------------------------------ initiate (§7.4, §7.5 as A) */

/* The record we stored in step 1 is removed again, unless someone replaced it meanwhile. */
static void initiate_undo(top *op)
{
    aw_store *s = aw_app_store(op->app);
    aw_trust_rec cur;
    if (s->trusts->get(s, op->actor_id, op->rec.peerid, &cur) == AW_OK) {
        if (cur.secret && op->rec.secret && !strcmp(cur.secret, op->rec.secret))
            s->trusts->del(s, op->actor_id, op->rec.peerid);
        aw_trust_rec_free(&cur);
    }
    op->have_rec = false;
}

static void initiate_posted(const aw_result *res, void *ud)
{
    top *op = ud;
    int st = aw_result_status(res);
    take_peer_answer(op, res);
    int code = op->out.http_status;
    if (st == AW_OK && code >= 200 && code < 300) {
        if (code == 201) {
            /* Step 6: approved at once. Re-read: the peer may have called us meanwhile. */
            aw_store *s = aw_app_store(op->app);
            aw_trust_rec cur;
            if (s->trusts->get(s, op->actor_id, op->rec.peerid, &cur) == AW_OK) {
                if (cur.secret && !strcmp(cur.secret, op->rec.secret)) {
                    cur.peer_approved = true;
                    int r = s->trusts->upsert(s, &cur);
                    if (r != AW_OK) AW_WARN(&op->app->log, "trust %s/%s: cannot save peer approval: %s",
                                            op->actor_id, op->rec.peerid, aw_strerror(r));
                    aw_trust_rec_free(&op->rec);
                    op->rec = cur;
                } else {
                    aw_trust_rec_free(&cur); /* replaced by a newer handshake: report ours */
                }
            }
            op->rec.peer_approved = true;
        }
        aw_hooks_fire_trust(op->app, AW_EV_TRUST_INITIATED, op->origin, &op->rec, false);
        if (code == 201) aw_hooks_fire_trust(op->app, AW_EV_TRUST_FULLY_APPROVED_REMOTE, op->origin, &op->rec, true);
        finish(op, AW_OK);
        return;
    }
    AW_WARN(&op->app->log, "trust %s -> %s: peer refused the request (%s, HTTP %d)", op->actor_id, op->url,
            aw_strerror(st), code);
    initiate_undo(op);
    if (st == AW_OK) st = AW_EPEER; /* cannot happen (AW_OK means 2xx), kept as a guard */
    set_msg(op, "Unable to create trust relationship: %s", aw_strerror(st));
    finish(op, st);
}

static void initiate_meta(const aw_result *res, void *ud)
{
    top *op = ud;
    aw_app *app = op->app;
    aw_store *s = aw_app_store(app);
    int st = aw_result_status(res);
    take_peer_answer(op, res);
    if (st != AW_OK) {
        set_msg(op, "Unable to create trust relationship: peer /meta: %s", aw_strerror(st));
        finish(op, st);
        return;
    }
    json_t *meta = aw_result_payload(res);
    if (!meta) meta = aw_result_json(res);
    const char *pid = aw_json_str(meta, "id"), *ptype = aw_json_str(meta, "type");
    if (!pid || !*pid || !ptype || !*ptype) {
        set_msg(op, "Unable to create trust relationship: peer /meta lacks id or type");
        finish(op, AW_EPROTO);
        return;
    }
    if (!strcmp(pid, op->actor_id) || strlen(pid) >= 64) {
        set_msg(op, "Unable to create trust relationship: invalid peer id");
        finish(op, AW_EINVAL);
        return;
    }
    char secret[41], verify[41], now[32];
    int r = new_unique_secret(app, op->actor_id, secret);
    if (r == AW_OK && aw_new_token(verify) != 0) r = AW_ESTORAGE;
    if (r != AW_OK) {
        finish(op, r);
        return;
    }
    aw_time_iso(now);
    aw_trust_rec *t = &op->rec;
    t->actor = strdup(op->actor_id);
    t->peerid = strdup(pid);
    t->baseuri = strdup(op->url);
    t->type = strdup(ptype);
    t->relationship = strdup(op->rel);
    t->secret = strdup(secret);
    t->desc = strdup(op->desc);
    t->approved = true;
    t->peer_approved = false;
    t->verified = true;
    t->verification_token = strdup(verify);
    t->created_at = strdup(now);
    const char *tags = aw_json_str(meta, "aw_supported"); /* the peer's option tags, when it says */
    if (tags) t->peer_supported = strdup(tags);
    if (!t->actor || !t->peerid || !t->baseuri || !t->type || !t->relationship || !t->secret || !t->desc ||
        !t->verification_token || !t->created_at || (tags && !t->peer_supported)) {
        finish(op, AW_ENOMEM);
        return;
    }
    /* Step 1: store first — the peer calls back (verification) while we wait in step 2. */
    r = s->trusts->upsert(s, t);
    if (r != AW_OK) {
        finish(op, r);
        return;
    }
    op->have_rec = true;
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "baseuri", op->actor_url, "id", op->actor_id, "type",
                             app->cfg.type_urn, "secret", secret, "desc", op->desc, "verify", verify);
    aw_buf u = AW_BUF_INIT;
    aw_buf_printf(&u, "%s/trust/%s", op->url, op->rel);
    char *url = aw_buf_take(&u);
    aw_peer_request pr = {0};
    pr.method = "POST";
    pr.url = url;
    pr.json = body;
    pr.idempotency = AW_IDEMP_NEVER;
    r = (body && url) ? aw_peer_request_async(app, &pr, NULL, initiate_posted, op, NULL) : AW_ENOMEM;
    json_decref(body);
    free(url);
    if (r != AW_OK) {
        initiate_undo(op);
        finish(op, r);
    }
}

int aw_trust_initiate_start(aw_app *app, const char *actor_id, const char *url, const char *rel,
                            const char *desc, aw_trust_done cb, void *ud)
{
    if (!url || !*url || aw_peer_url_validate(app, url) != AW_OK) return AW_EINVAL;
    if (!rel || !*rel) rel = app->cfg.default_relationship ? app->cfg.default_relationship : "associate";
    if (strchr(rel, '/') || strchr(rel, '?') || strchr(rel, '#') || strlen(rel) > 64) return AW_EINVAL;
    top *op = top_new(app, actor_id, cb, ud);
    if (!op) return AW_ENOMEM;
    op->url = strdup(url);
    op->rel = strdup(rel);
    op->desc = strdup(desc ? desc : "");
    if (!op->url || !op->rel || !op->desc) {
        top_free(op);
        return AW_ENOMEM;
    }
    int r = aw_peer_meta_get_async(app, url, NULL, initiate_meta, op, NULL);
    if (r != AW_OK) top_free(op);
    return r;
}

/* ------------------------------------------------------------------ accept (§7.5 as B) */

/* Step 4: store B's record. */
static void accept_store(top *op, bool verified)
{
    aw_app *app = op->app;
    aw_store *s = aw_app_store(app);
    aw_trust_rec *t = &op->rec;
    /* The secret check again: another request may have taken it while we verified. */
    int r = secret_taken(app, op->actor_id, t->secret, t->peerid);
    if (r != AW_OK) {
        if (r == AW_ECONFLICT) set_msg(op, "the secret belongs to another trust");
        finish(op, r);
        return;
    }
    t->verified = verified;
    /* The app may decide approve / pending / deny before anything is stored (sdk-api.md §4.3). */
    int decision = aw_hooks_fire_trust(app, AW_EV_TRUST_REQUEST_RECEIVED, op->origin, t, true);
    if (decision == AW_TRUST_DENY) {
        set_msg(op, "the application refused the trust request");
        finish(op, AW_EDENIED);
        return;
    }
    if (decision == AW_TRUST_APPROVE) t->approved = true;
    else if (decision == AW_TRUST_PENDING) t->approved = false;
    r = s->trusts->upsert(s, t);
    if (r != AW_OK) {
        finish(op, r);
        return;
    }
    op->have_rec = true;
    if (t->approved) {
        aw_hooks_fire_trust(app, AW_EV_TRUST_APPROVED, op->origin, t, false);
        if (t->peer_approved) aw_hooks_fire_trust(app, AW_EV_TRUST_FULLY_APPROVED_LOCAL, op->origin, t, false);
    }
    finish(op, AW_OK);
}

static void accept_verified(const aw_result *res, void *ud)
{
    top *op = ud;
    bool ok = false;
    if (aw_result_status(res) == AW_OK) {
        json_t *j = aw_result_json(res);
        const char *tok = aw_json_str(j, "verification_token");
        if (!tok) tok = aw_json_str(j, "verificationToken");
        ok = tok && op->peer_verify && aw_ct_streq(tok, op->peer_verify);
    }
    if (!ok)
        AW_INFO(&op->app->log, "trust %s <- %s: not verified (%s, HTTP %d)", op->actor_id, op->rec.peerid,
                aw_strerror(aw_result_status(res)), aw_result_http_status(res));
    accept_store(op, ok);
}

int aw_trust_accept_start(aw_app *app, const char *actor_id, const char *rel, json_t *body, aw_trust_done cb,
                          void *ud)
{
    if (!json_is_object(body) || !rel || !*rel) return AW_EINVAL;
    const char *baseuri = aw_json_str(body, "baseuri"), *pid = aw_json_str(body, "id");
    if (!baseuri || !*baseuri || !pid || !*pid || strlen(pid) >= 64 || !strcmp(pid, actor_id)) return AW_EINVAL;
    if (aw_peer_url_validate(app, baseuri) != AW_OK) return AW_EINVAL;
    const char *secret = aw_json_str(body, "secret");
    const char *verify = aw_json_str(body, "verify");
    top *op = top_new(app, actor_id, cb, ud);
    if (!op) return AW_ENOMEM;
    char gen[41], vtok[41], now[32];
    bool have_secret = secret && *secret;
    int r = AW_OK;
    if (!have_secret) r = new_unique_secret(app, actor_id, gen);
    if (r == AW_OK && aw_new_token(vtok) != 0) r = AW_ESTORAGE;
    if (r != AW_OK) {
        top_free(op);
        return r == AW_ECONFLICT ? AW_ESTORAGE : r;
    }
    aw_time_iso(now);
    const char *type = aw_json_str(body, "type"), *desc = aw_json_str(body, "desc");
    bool dflt = app->cfg.default_relationship && !strcmp(rel, app->cfg.default_relationship);
    aw_trust_rec *t = &op->rec;
    t->actor = strdup(actor_id);
    t->peerid = strdup(pid);
    t->baseuri = strdup(baseuri);
    t->type = strdup(type ? type : "");
    t->relationship = strdup(rel);
    t->secret = strdup(have_secret ? secret : gen);
    t->desc = strdup(desc ? desc : "");
    t->approved = dflt && app->cfg.auto_accept_default;
    t->peer_approved = true;
    t->verified = false;
    t->verification_token = strdup(vtok);
    t->created_at = strdup(now);
    op->peer_verify = verify ? strdup(verify) : NULL;
    if (!t->actor || !t->peerid || !t->baseuri || !t->type || !t->relationship || !t->secret || !t->desc ||
        !t->verification_token || !t->created_at || (verify && !op->peer_verify)) {
        top_free(op);
        return AW_ENOMEM;
    }
    /* A secret another peer's trust already uses is refused before any network work. */
    r = secret_taken(app, actor_id, t->secret, pid);
    if (r != AW_OK) {
        if (r == AW_ECONFLICT) set_msg(op, "the secret belongs to another trust");
        finish(op, r);
        return AW_OK;
    }
    /* Step 3: verification needs both the secret and the token to compare; else verified=false. */
    if (!have_secret || !verify || !*verify) {
        accept_store(op, false);
        return AW_OK;
    }
    char *url = trust_url(baseuri, rel, actor_id);
    aw_retry_policy once = {1, 0};
    aw_call_opts co = AW_CALL_OPTS_INIT;
    co.deadline_ms = app->cfg.net.verify_ms ? app->cfg.net.verify_ms : 5000;
    co.retry = &once;
    aw_peer_request pr = {0};
    pr.method = "GET";
    pr.url = url;
    pr.bearer = t->secret;
    pr.idempotency = AW_IDEMP_SAFE;
    r = url ? aw_peer_request_async(app, &pr, &co, accept_verified, op, NULL) : AW_ENOMEM;
    free(url);
    if (r == AW_ESHUTDOWN || r == AW_ENOMEM) {
        top_free(op);
        return r;
    }
    if (r != AW_OK) accept_store(op, false); /* could not even ask: not verified, the request still succeeds */
    return AW_OK;
}

/* ------------------------------------------------------------------ modify / approve (§7.6) */

static void modify_notified(const aw_result *res, void *ud)
{
    top *op = ud;
    take_peer_answer(op, res);
    op->out.peer_status = aw_result_status(res);
    if (op->out.peer_status != AW_OK)
    {
        AW_WARN(&op->app->log, "trust %s/%s: approval notice failed (%s, HTTP %d); retried from the outbox",
                op->actor_id, op->rec.peerid, aw_strerror(op->out.peer_status), op->out.http_status);
        char *url = trust_url(op->rec.baseuri, op->rec.relationship, op->actor_id);
        json_t *body = json_pack("{s:b}", "approved", 1);
        if (url && body)
            aw_delivery_enqueue_notice(op->app, op->actor_id, op->rec.peerid, "POST", url, op->rec.secret, body);
        free(url);
        json_decref(body);
    }
    finish(op, AW_OK);
}

static int load_rec(aw_app *app, const char *actor_id, const char *rel, const char *peerid, aw_trust_rec *out)
{
    int r = aw_app_store(app)->trusts->get(aw_app_store(app), actor_id, peerid, out);
    if (r != AW_OK) return r;
    if (rel && (!out->relationship || strcmp(rel, out->relationship) != 0)) {
        aw_trust_rec_free(out);
        return AW_ENOTFOUND;
    }
    return AW_OK;
}

static int replace_str(char **dst, const char *src)
{
    char *d = strdup(src);
    if (!d) return AW_ENOMEM;
    free(*dst);
    *dst = d;
    return AW_OK;
}

int aw_trust_modify_start(aw_app *app, const char *actor_id, const char *rel, const char *peerid,
                          json_t *changes, aw_trust_done cb, void *ud)
{
    if (!peerid || (changes && !json_is_object(changes))) return AW_EINVAL;
    json_t *ap = json_object_get(changes, "approved");
    bool want_approve = false;
    if (ap) {
        bool valid = json_is_boolean(ap) || (json_is_string(ap) && (!strcasecmp(json_string_value(ap), "true") ||
                                                                     !strcasecmp(json_string_value(ap), "false")));
        if (!valid) return AW_EINVAL;
        want_approve = aw_json_bool(changes, "approved", false);
        if (!want_approve) return AW_EINVAL; /* un-approving is not defined: delete the trust instead */
    }
    json_t *bu = json_object_get(changes, "baseuri"), *de = json_object_get(changes, "desc");
    json_t *perms = json_object_get(changes, "permissions");
    if ((bu && !json_is_string(bu)) || (de && !json_is_string(de)) || (perms && !json_is_object(perms) &&
                                                                       !json_is_null(perms)))
        return AW_EINVAL;
    if (bu && aw_peer_url_validate(app, json_string_value(bu)) != AW_OK) return AW_EINVAL;
    json_t *perm_upd = NULL;
    if (perms && !json_is_null(perms)) {
        const char *why = NULL;
        if (!(perm_upd = aw_perms_normalize_update(perms, &why))) return AW_EINVAL;
    }
    top *op = top_new(app, actor_id, cb, ud);
    if (!op) {
        json_decref(perm_upd);
        return AW_ENOMEM;
    }
    aw_store *s = aw_app_store(app);
    int r = load_rec(app, actor_id, rel, peerid, &op->rec);
    if (r != AW_OK) {
        json_decref(perm_upd);
        finish(op, r);
        return AW_OK;
    }
    op->have_rec = true;
    bool was = op->rec.approved;
    if (bu) r = replace_str(&op->rec.baseuri, json_string_value(bu));
    if (r == AW_OK && de) r = replace_str(&op->rec.desc, json_string_value(de));
    if (want_approve) op->rec.approved = true;
    if (r == AW_OK && (bu || de || (want_approve && !was))) r = s->trusts->upsert(s, &op->rec);
    if (r == AW_OK && perms) {
        if (json_is_null(perms)) {
            r = s->trusts->perm_del(s, actor_id, peerid);
            if (r == AW_ENOTFOUND) r = AW_OK;
        } else {
            /* The same override semantics as PUT .../permissions (§7.11, §8.1). */
            bool created;
            r = aw_perms_override_apply(app, actor_id, peerid, NULL, perm_upd, "creator", &created);
        }
    }
    json_decref(perm_upd);
    if (r != AW_OK) {
        finish(op, r);
        return AW_OK;
    }
    if (!(want_approve && !was)) {
        finish(op, AW_OK);
        return AW_OK;
    }
    aw_hooks_fire_trust(app, AW_EV_TRUST_APPROVED, op->origin, &op->rec, false);
    if (op->rec.peer_approved) aw_hooks_fire_trust(app, AW_EV_TRUST_FULLY_APPROVED_LOCAL, op->origin, &op->rec, false);
    /* Saved first, so the peer can use the trust as soon as it hears; then the notice. */
    char *url = trust_url(op->rec.baseuri, op->rec.relationship, actor_id);
    json_t *body = json_pack("{s:b}", "approved", 1);
    aw_peer_request pr = {0};
    pr.method = "POST";
    pr.url = url;
    pr.bearer = op->rec.secret;
    pr.json = body;
    pr.idempotency = AW_IDEMP_SAFE;
    r = (url && body) ? aw_peer_request_async(app, &pr, NULL, modify_notified, op, NULL) : AW_ENOMEM;
    free(url);
    json_decref(body);
    if (r != AW_OK) {
        op->out.peer_status = r;
        AW_WARN(&app->log, "trust %s/%s: approval notice not sent: %s", actor_id, peerid, aw_strerror(r));
        finish(op, AW_OK);
    }
    return AW_OK;
}

/* ------------------------------------------------------------------ delete (§7.8) */

static void delete_local(top *op)
{
    aw_store *s = aw_app_store(op->app);
    int r = s->trusts->del(s, op->actor_id, op->rec.peerid);
    if (r == AW_OK) aw_hooks_fire_trust(op->app, AW_EV_TRUST_DELETED, op->origin, &op->rec, false);
    if (r == AW_ENOTFOUND) r = AW_OK; /* gone meanwhile: the goal is reached */
    finish(op, r);
}

static void delete_notified(const aw_result *res, void *ud)
{
    top *op = ud;
    take_peer_answer(op, res);
    int st = aw_result_status(res);
    if (st == AW_EPEER && op->out.http_status == 404) st = AW_OK; /* the peer already forgot us */
    op->out.peer_status = st;
    if (st != AW_OK) {
        /* Departure from the reference (which answers 502 and keeps the record): revocation cannot be
         * blocked by the peer (clarifications #3, sdk-api §2.9 item 6). The notice goes to the durable
         * outbox, which retries it with backoff after the local delete. */
        AW_WARN(&op->app->log, "trust %s/%s: delete notice to %s failed (%s, HTTP %d); deleted locally, notice queued",
                op->actor_id, op->rec.peerid, op->rec.baseuri, aw_strerror(st), op->out.http_status);
    }
    delete_local(op);
    if (st != AW_OK) {
        char *url = trust_url(op->rec.baseuri, op->rec.relationship, op->actor_id);
        if (url) aw_delivery_enqueue_notice(op->app, op->actor_id, op->rec.peerid, "DELETE", url, op->rec.secret, NULL);
        free(url);
    }
}

int aw_trust_delete_start(aw_app *app, const char *actor_id, const char *rel, const char *peerid,
                          bool notify_peer, aw_trust_done cb, void *ud)
{
    return aw_trust_delete_start_ex(app, actor_id, rel, peerid, notify_peer, AW_ORIGIN_HTTP, cb, ud);
}

int aw_trust_delete_start_ex(aw_app *app, const char *actor_id, const char *rel, const char *peerid,
                             bool notify_peer, int origin, aw_trust_done cb, void *ud)
{
    if (!peerid || !*peerid) return AW_EINVAL;
    top *op = top_new(app, actor_id, cb, ud);
    if (!op) return AW_ENOMEM;
    op->origin = (aw_event_origin)origin;
    int r = load_rec(app, actor_id, rel, peerid, &op->rec);
    if (r != AW_OK) {
        finish(op, r);
        return AW_OK;
    }
    op->have_rec = true; /* the outcome carries a snapshot of the deleted record */
    bool remote = notify_peer && op->rec.baseuri && *op->rec.baseuri && strncmp(peerid, "oauth2", 6) != 0;
    if (!remote) {
        delete_local(op);
        return AW_OK;
    }
    char *url = trust_url(op->rec.baseuri, op->rec.relationship, actor_id);
    aw_peer_request pr = {0};
    pr.method = "DELETE";
    pr.url = url;
    pr.bearer = op->rec.secret;
    r = url ? aw_peer_request_async(app, &pr, NULL, delete_notified, op, NULL) : AW_ENOMEM;
    free(url);
    if (r != AW_OK) {
        op->out.peer_status = r;
        AW_WARN(&app->log, "trust %s/%s: delete notice not sent (%s); deleted locally anyway", actor_id, peerid,
                aw_strerror(r));
        delete_local(op);
    }
    return AW_OK;
}
