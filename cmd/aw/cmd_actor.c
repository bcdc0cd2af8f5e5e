/* aw — actor commands: create, delete, meta. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw.h"

int cmd_create(cli *c)
{
    const char *factory = cli_base_url(c);
    if (!factory) return EX_USAGE;
    char *url = cli_url(factory, NULL, 0);
    if (!url) return EX_USAGE;
    const char *creator = c->f_creator ? c->f_creator : getenv("AW_CREATOR");
    const char *pass = c->f_passphrase ? c->f_passphrase : getenv("AW_PASSPHRASE");
    json_t *body = json_object();
    if (creator && *creator) json_object_set_new(body, "creator", json_string(creator));
    if (pass && *pass) json_object_set_new(body, "passphrase", json_string(pass));
    if (c->trustee_root) json_object_set_new(body, "trustee_root", json_string(c->trustee_root));
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "POST", url, body, NULL, AUTH_NONE, &res);
    if (ex == EX_OK) {
        json_t *j = aw_result_json(res);
        if (!json_is_object(j) || !json_is_string(json_object_get(j, "id"))) {
            fprintf(stderr, "aw: create: the factory did not answer with an actor (HTTP %d)\n",
                    aw_result_http_status(res));
            ex = EX_REFUSED;
        } else if (c->json) {
            out_json(j);
        } else {
            json_t *o = json_object();
            json_object_set(o, "id", json_object_get(j, "id"));
            const char *loc = aw_result_location(res);
            if (loc) json_object_set_new(o, "url", json_string(loc));
            const char *k;
            json_t *v;
            json_object_foreach(j, k, v) {
                if (strcmp(k, "id") != 0) json_object_set(o, k, v);
            }
            out_kv(o);
            json_decref(o);
        }
    }
    aw_result_unref(res);
    cli_stop(c);
    json_decref(body);
    free(url);
    return ex;
}

int cmd_delete(cli *c)
{
    const char *base = cli_base_url(c);
    if (!base) return EX_USAGE;
    char *url = cli_root_url(base);
    if (!url) return EX_USAGE;
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "DELETE", url, NULL, NULL, AUTH_CRED, &res);
    aw_result_unref(res);
    cli_stop(c);
    free(url);
    return ex;
}

int cmd_meta(cli *c)
{
    const char *base = c->nargs > 0 ? c->args[0] : cli_base_url(c);
    if (!base) return EX_USAGE;
    char *root = cli_root_url(base);
    if (!root) return EX_USAGE;
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_meta(c, root, &res);
    if (ex == EX_OK) {
        if (c->json) out_json(aw_result_payload(res));
        else out_kv(aw_result_payload(res));
    }
    aw_result_unref(res);
    cli_stop(c);
    free(root);
    return ex;
}
