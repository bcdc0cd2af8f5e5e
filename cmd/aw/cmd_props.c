/* aw — property commands: get, set, del (protocol.md §6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw.h"

#define MAX_SEGS 32

/* ["properties", NAME parts split on '/'] into segs; returns the count or 0 after a usage error. */
static size_t prop_path(const char *name, char *buf, size_t bufsz, const char **segs)
{
    size_t n = 0;
    segs[n++] = "properties";
    if (!name) return n;
    if (strlen(name) >= bufsz) return 0;
    strcpy(buf, name);
    char *save = NULL;
    for (char *p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGS) return 0;
        segs[n++] = p;
    }
    return n;
}

static char *props_url(cli *c, const char *name)
{
    const char *base = cli_base_url(c);
    if (!base) return NULL;
    char buf[4096];
    const char *segs[MAX_SEGS];
    size_t n = prop_path(name, buf, sizeof buf, segs);
    if (n == 0 || (name && n == 1)) {
        cli_usage_error("bad property name: %s", name ? name : "");
        return NULL;
    }
    return cli_url(base, segs, n);
}

int cmd_get(cli *c)
{
    const char *name = c->nargs > 0 ? c->args[0] : NULL;
    char *url = props_url(c, name);
    if (!url) return EX_USAGE;
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "GET", url, NULL, NULL, AUTH_CRED, &res);
    if (ex == EX_OK) {
        json_t *j = aw_result_json(res);
        if (c->json || !j) {
            out_body(res);
        } else if (!name && json_is_object(j)) {
            static const char *const hdr[] = {"NAME", "VALUE"};
            out_table *t = table_new(2, hdr);
            const char *k;
            json_t *v;
            json_object_foreach(j, k, v) {
                char *s = out_value(v);
                const char *row[] = {k, s};
                table_add(t, row);
                free(s);
            }
            table_print(t);
        } else if (json_is_string(j)) {
            printf("%s\n", json_string_value(j));
        } else {
            out_json(j);
        }
    }
    aw_result_unref(res);
    cli_stop(c);
    free(url);
    return ex;
}

int cmd_set(cli *c)
{
    char *url = props_url(c, c->args[0]);
    if (!url) return EX_USAGE;
    const char *value = c->args[1];
    json_t *j = NULL;
    if (!c->text) j = json_loads(value, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "PUT", url, j, j ? NULL : value, AUTH_CRED, &res);
    if (ex == EX_OK && c->json) out_body(res);
    aw_result_unref(res);
    cli_stop(c);
    json_decref(j);
    free(url);
    return ex;
}

int cmd_del(cli *c)
{
    if (c->all == (c->nargs > 0)) return cli_usage_error("del needs either NAME or --all");
    char *url = props_url(c, c->all ? NULL : c->args[0]);
    if (!url) return EX_USAGE;
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "DELETE", url, NULL, NULL, AUTH_CRED, &res);
    aw_result_unref(res);
    cli_stop(c);
    free(url);
    return ex;
}
