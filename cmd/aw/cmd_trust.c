/* aw — trust commands (protocol.md §7): list, add, approve, delete, show. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw.h"

static const char *yn(json_t *v) { return json_is_true(v) ? "yes" : "no"; }

static void trust_table(json_t *arr)
{
    static const char *const hdr[] = {"PEERID", "RELATIONSHIP", "APPROVED", "PEER_APPROVED", "VERIFIED", "BASEURI", "DESC"};
    out_table *t = table_new(7, hdr);
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        const char *row[] = {json_string_value(json_object_get(r, "peerid")),
                             json_string_value(json_object_get(r, "relationship")),
                             yn(json_object_get(r, "approved")),
                             yn(json_object_get(r, "peer_approved")),
                             yn(json_object_get(r, "verified")),
                             json_string_value(json_object_get(r, "baseuri")),
                             json_string_value(json_object_get(r, "desc"))};
        table_add(t, row);
    }
    table_print(t);
}

/* GET /trust[?relationship=R][&peerid=P] */
static char *trust_list_url(cli *c, const char *peerid)
{
    const char *base = cli_base_url(c);
    if (!base) return NULL;
    static const char *const segs[] = {"trust"};
    char *url = cli_url(base, segs, 1);
    if (url && c->relationship) url = cli_url_query(url, "relationship", c->relationship);
    if (url && peerid) url = cli_url_query(url, "peerid", peerid);
    return url;
}

int cmd_trust_list(cli *c)
{
    char *url = trust_list_url(c, NULL);
    if (!url) return EX_USAGE;
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "GET", url, NULL, NULL, AUTH_CRED, &res);
    if (ex == EX_OK) {
        json_t *j = aw_result_json(res);
        if (c->json || !json_is_array(j)) out_body(res);
        else trust_table(j);
    }
    aw_result_unref(res);
    cli_stop(c);
    free(url);
    return ex;
}

int cmd_trust_add(cli *c)
{
    const char *base = cli_base_url(c);
    if (!base) return EX_USAGE;
    static const char *const segs[] = {"trust"};
    char *url = cli_url(base, segs, 1);
    if (!url) return EX_USAGE;
    json_t *body = json_object();
    json_object_set_new(body, "url", json_string(c->args[0]));
    if (c->relationship) json_object_set_new(body, "relationship", json_string(c->relationship));
    if (c->desc) json_object_set_new(body, "desc", json_string(c->desc));
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "POST", url, body, NULL, AUTH_CRED, &res);
    if (ex == EX_OK) {
        json_t *j = aw_result_json(res);
        if (c->json || !json_is_object(j)) out_body(res);
        else out_kv(j);
    }
    aw_result_unref(res);
    cli_stop(c);
    json_decref(body);
    free(url);
    return ex;
}

/* The relationship of the trust with `peerid`: --relationship, else looked up with GET /trust?peerid=.
 * Returns EX_OK with *rel (free) or an exit code (message printed). Needs a started client. */
static int find_relationship(cli *c, const char *peerid, char **rel)
{
    *rel = NULL;
    if (c->relationship) {
        *rel = strdup(c->relationship);
        return EX_OK;
    }
    char *url = trust_list_url(c, peerid);
    if (!url) return EX_USAGE;
    aw_result *res = NULL;
    int ex = cli_http(c, "GET", url, NULL, NULL, AUTH_CRED, &res);
    free(url);
    if (ex != EX_OK) return ex;
    json_t *arr = aw_result_json(res);
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        const char *p = json_string_value(json_object_get(r, "peerid"));
        const char *rl = json_string_value(json_object_get(r, "relationship"));
        if (p && rl && !strcmp(p, peerid)) {
            *rel = strdup(rl);
            break;
        }
    }
    aw_result_unref(res);
    if (!*rel) {
        fprintf(stderr, "aw: no trust with peer %s\n", peerid);
        return EX_REFUSED;
    }
    return EX_OK;
}

/* Run `method` on /trust/{rel}/{peer}[?peer=true]. */
static int trust_one(cli *c, const char *method, json_t *body, bool local, aw_result **res)
{
    *res = NULL;
    const char *base = cli_base_url(c);
    if (!base) return EX_USAGE;
    char *probe = cli_url(base, NULL, 0); /* validate before starting */
    if (!probe) return EX_USAGE;
    free(probe);
    int ex = cli_start(c);
    char *rel = NULL;
    if (ex == EX_OK) ex = find_relationship(c, c->args[0], &rel);
    if (ex == EX_OK) {
        const char *segs[] = {"trust", rel, c->args[0]};
        char *url = cli_url(base, segs, 3);
        if (url && local) url = cli_url_query(url, "peer", "true");
        if (!url) ex = EX_USAGE;
        else ex = cli_http(c, method, url, body, NULL, AUTH_CRED, res);
        free(url);
    }
    free(rel);
    return ex;
}

int cmd_trust_approve(cli *c)
{
    json_t *body = json_pack("{s:b}", "approved", 1);
    aw_result *res = NULL;
    int ex = trust_one(c, "PUT", body, false, &res);
    aw_result_unref(res);
    cli_stop(c);
    json_decref(body);
    return ex;
}

int cmd_trust_delete(cli *c)
{
    aw_result *res = NULL;
    int ex = trust_one(c, "DELETE", NULL, c->local, &res);
    aw_result_unref(res);
    cli_stop(c);
    return ex;
}

int cmd_trust_show(cli *c)
{
    aw_result *res = NULL;
    int ex = trust_one(c, "GET", NULL, false, &res);
    if (ex == EX_OK) {
        json_t *j = aw_result_json(res);
        if (c->json || !json_is_object(j)) out_body(res);
        else out_kv(j);
    }
    aw_result_unref(res);
    cli_stop(c);
    return ex;
}
