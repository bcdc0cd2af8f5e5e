/* aw — subscription commands (protocol.md §9): list, add, delete, show. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "aw.h"
#include "util/str.h"

static void str_cell(json_t *o, const char *k, char *buf, size_t n)
{
    json_t *v = json_object_get(o, k);
    if (json_is_string(v)) aw_strlcpy(buf, json_string_value(v), n);
    else if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else buf[0] = '\0';
}

int cmd_sub_list(cli *c)
{
    const char *base = cli_base_url(c);
    if (!base) return EX_USAGE;
    const char *segs[] = {"subscriptions", c->nargs > 0 ? c->args[0] : NULL};
    char *url = cli_url(base, segs, c->nargs > 0 ? 2 : 1);
    if (url && c->target) url = cli_url_query(url, "target", c->target);
    if (url && c->subtarget) url = cli_url_query(url, "subtarget", c->subtarget);
    if (url && c->resource) url = cli_url_query(url, "resource", c->resource);
    if (!url) return EX_USAGE;
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "GET", url, NULL, NULL, AUTH_CRED, &res);
    if (ex == EX_OK) {
        json_t *j = aw_result_json(res);
        json_t *data = json_object_get(j, "data");
        if (c->json || !json_is_array(data)) {
            out_body(res);
        } else {
            static const char *const hdr[] = {"PEERID", "SUBSCRIPTIONID", "ROLE", "TARGET", "SUBTARGET",
                                              "RESOURCE", "GRANULARITY", "SEQUENCE"};
            out_table *t = table_new(8, hdr);
            size_t i;
            json_t *s;
            json_array_foreach(data, i, s) {
                char cells[8][256];
                static const char *keys[] = {"peerid", "subscriptionid", NULL, "target", "subtarget",
                                             "resource", "granularity", "sequence"};
                const char *row[8];
                for (int k = 0; k < 8; k++) {
                    if (keys[k]) str_cell(s, keys[k], cells[k], sizeof cells[k]);
                    row[k] = cells[k];
                }
                if (!cells[0][0]) { /* per-peer listings may omit peerid in entries */
                    const char *p = json_string_value(json_object_get(j, "peerid"));
                    aw_strlcpy(cells[0], p ? p : "", sizeof cells[0]);
                }
                /* callback true: our mirror of a subscription we hold at the peer */
                row[2] = json_is_true(json_object_get(s, "callback")) ? "subscriber" : "publisher";
                table_add(t, row);
            }
            table_print(t);
        }
    }
    aw_result_unref(res);
    cli_stop(c);
    free(url);
    return ex;
}

/* The last path segment of `url` (the subscription id in a subscription URL), via the URL API. */
static char *last_segment(const char *url)
{
    CURLU *u = curl_url();
    char *path = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK) {
        const char *s = strrchr(path, '/');
        out = strdup(s ? s + 1 : path);
    }
    curl_free(path);
    curl_url_cleanup(u);
    return out;
}

int cmd_sub_add(cli *c)
{
    const char *g = c->granularity ? c->granularity : "high";
    if (strcmp(g, "high") != 0 && strcmp(g, "low") != 0 && strcmp(g, "none") != 0)
        return cli_usage_error("--granularity must be high, low or none");
    if (c->resource && !c->subtarget) return cli_usage_error("--resource needs --subtarget");
    const char *base = cli_base_url(c);
    if (!base) return EX_USAGE;
    static const char *const segs[] = {"subscriptions"};
    char *url = cli_url(base, segs, 1);
    if (!url) return EX_USAGE;
    json_t *body = json_object();
    json_object_set_new(body, "peerid", json_string(c->args[0]));
    json_object_set_new(body, "target", json_string(c->target ? c->target : "properties"));
    if (c->subtarget) json_object_set_new(body, "subtarget", json_string(c->subtarget));
    if (c->resource) json_object_set_new(body, "resource", json_string(c->resource));
    json_object_set_new(body, "granularity", json_string(g));
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "POST", url, body, NULL, AUTH_CRED, &res);
    if (ex == EX_OK) {
        const char *loc = aw_result_location(res);
        char *subid = loc ? last_segment(loc) : NULL;
        json_t *o = json_object();
        json_object_set_new(o, "peerid", json_string(c->args[0]));
        json_object_set_new(o, "subscriptionid", json_string(subid ? subid : ""));
        json_object_set_new(o, "url", json_string(loc ? loc : ""));
        if (c->json) out_json(o);
        else out_kv(o);
        json_decref(o);
        free(subid);
    }
    aw_result_unref(res);
    cli_stop(c);
    json_decref(body);
    free(url);
    return ex;
}

static char *one_sub_url(cli *c)
{
    const char *base = cli_base_url(c);
    if (!base) return NULL;
    const char *segs[] = {"subscriptions", c->args[0], c->args[1]};
    return cli_url(base, segs, 3);
}

int cmd_sub_delete(cli *c)
{
    char *url = one_sub_url(c);
    if (!url) return EX_USAGE;
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "DELETE", url, NULL, NULL, AUTH_CRED, &res);
    aw_result_unref(res);
    cli_stop(c);
    free(url);
    return ex;
}

int cmd_sub_show(cli *c)
{
    char *url = one_sub_url(c);
    if (!url) return EX_USAGE;
    int ex = cli_start(c);
    aw_result *res = NULL;
    if (ex == EX_OK) ex = cli_http(c, "GET", url, NULL, NULL, AUTH_CRED, &res);
    if (ex == EX_OK) {
        json_t *j = aw_result_json(res);
        if (c->json || !json_is_object(j)) {
            out_body(res);
        } else {
            json_t *head = json_deep_copy(j);
            json_object_del(head, "data");
            out_kv(head);
            json_decref(head);
            json_t *diffs = json_object_get(j, "data");
            if (json_is_array(diffs) && json_array_size(diffs) > 0) {
                printf("\n");
                static const char *const hdr[] = {"SEQUENCE", "TIMESTAMP", "DATA"};
                out_table *t = table_new(3, hdr);
                size_t i;
                json_t *d;
                json_array_foreach(diffs, i, d) {
                    char seq[32], ts[128];
                    str_cell(d, "sequence", seq, sizeof seq);
                    str_cell(d, "timestamp", ts, sizeof ts);
                    char *data = out_value(json_object_get(d, "data"));
                    const char *row[] = {seq, ts, data};
                    table_add(t, row);
                    free(data);
                }
                table_print(t);
            }
        }
    }
    aw_result_unref(res);
    cli_stop(c);
    free(url);
    return ex;
}
