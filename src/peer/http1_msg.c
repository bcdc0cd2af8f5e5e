/* The built-in HTTP/1.1 client's messages: the bytes of a request (memcpy, no printf) and the reading of the
 * answer with http-parser (Debian's libhttp-parser), which does all the parsing. See http1.c for the rest. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "peer/http1_internal.h"
#include "util/str.h"

/* ---------------- answers ---------------- */

static void header_done(h1_conn *c)
{
    aw_op *op = c->op;
    if (op && c->hv_kind == HV_LOCATION) {
        free(op->hdr_location);
        op->hdr_location = aw_trim_dup(c->hval.data ? c->hval.data : "", c->hval.len);
    } else if (op && c->hv_kind == HV_RETRY_AFTER) {
        aw_req_retry_after(op, c->hval.data ? c->hval.data : "", c->hval.len);
    }
    c->hv_kind = HV_NONE;
    c->in_value = false;
    c->name_len = 0;
    c->name_long = false;
    c->hval.len = 0;
}

static int on_message_begin(http_parser *p)
{
    h1_conn *c = p->data;
    aw_op *op = c->op;
    free(op->hdr_location); /* a new response (after 1xx) */
    op->hdr_location = NULL;
    op->hdr_has_retry_after = false;
    op->hdr_retry_after_ms = 0;
    c->in_value = false;
    c->name_len = 0;
    c->name_long = false;
    c->hv_kind = HV_NONE;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    h1_conn *c = p->data;
    if (c->in_value) header_done(c);
    if (c->name_len + len < sizeof c->name) {
        memcpy(c->name + c->name_len, at, len);
        c->name_len = (uint8_t)(c->name_len + len);
    } else {
        c->name_long = true;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    h1_conn *c = p->data;
    if (!c->in_value) {
        c->in_value = true;
        c->hval.len = 0;
        c->hv_kind = HV_NONE;
        if (!c->name_long) {
            if (c->name_len == 8 && !strncasecmp(c->name, "location", 8)) c->hv_kind = HV_LOCATION;
            else if (c->name_len == 11 && !strncasecmp(c->name, "retry-after", 11)) c->hv_kind = HV_RETRY_AFTER;
        }
    }
    if (c->hv_kind != HV_NONE && c->hval.len + len <= H1_HDR_VALUE_MAX) aw_buf_append(&c->hval, at, len);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    h1_conn *c = p->data;
    if (c->in_value) header_done(c);
    if (p->status_code < 200) return 0; /* 1xx: no body; the real answer follows */
    size_t cap = aw_peer_net(c->h1->eng)->max_response;
    if (p->content_length != ULLONG_MAX && p->content_length > 0 && p->content_length > cap) {
        c->cap_hit = true;
        return -1;
    }
    return strcmp(c->op->method, "HEAD") ? 0 : 1; /* 1: no body follows */
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    h1_conn *c = p->data;
    aw_op *op = c->op;
    if (op->resp.len + len > aw_peer_net(c->h1->eng)->max_response) {
        c->cap_hit = true;
        return -1;
    }
    aw_buf_append(&op->resp, at, len);
    return op->resp.oom ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
    h1_conn *c = p->data;
    if (p->status_code < 200 && p->status_code != 101) return 0; /* 100 Continue and the like */
    c->done = true;
    c->keep = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings h1_settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

size_t aw_h1_parse(h1_conn *c, const char *data, size_t n)
{
    return http_parser_execute(&c->parser, &h1_settings, data, n);
}

/* ---------------- requests ---------------- */

static bool line_is_removal(const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon) return true;
    for (const char *p = colon + 1; *p; p++)
        if (!isspace((unsigned char)*p)) return false;
    return true; /* "Name:" with no value: libcurl's way to send no such header */
}

h1_write *aw_h1_request(h1_conn *c, size_t *len)
{
    aw_op *op = c->op;
    if (!op->h1_target) {
        CURLU *own = NULL, *cu = op->cu;
        if (!cu) {
            own = cu = curl_url();
            if (cu && curl_url_set(cu, CURLUPART_URL, op->url, 0) != CURLUE_OK) {
                curl_url_cleanup(own);
                own = cu = NULL;
            }
        }
        char *path = NULL, *query = NULL;
        if (cu && curl_url_get(cu, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
            curl_url_get(cu, CURLUPART_QUERY, &query, 0);
            size_t lp = strlen(path), lq = query ? strlen(query) : 0;
            op->h1_target = malloc(lp + lq + 3);
            if (op->h1_target) {
                char *d = op->h1_target;
                if (path[0] != '/') *d++ = '/';
                memcpy(d, path, lp);
                d += lp;
                if (query) {
                    *d++ = '?';
                    memcpy(d, query, lq);
                    d += lq;
                }
                *d = 0;
            }
        }
        curl_free(path);
        curl_free(query);
        curl_url_cleanup(own);
        if (!op->h1_target) return NULL;
    }
    bool own_host = false;
    size_t lm = strlen(op->method), lt = strlen(op->h1_target), n = lm + 1 + lt + 11;
    for (struct curl_slist *h = op->hdrs; h; h = h->next) {
        if (line_is_removal(h->data)) continue;
        if (!strncasecmp(h->data, "Host:", 5)) own_host = true;
        n += strlen(h->data) + 2;
    }
    if (!own_host) n += c->pool->hostln_len;
    bool clen = op->has_body || !strcmp(op->method, "POST") || !strcmp(op->method, "PUT") ||
                !strcmp(op->method, "PATCH");
    char cl[48];
    size_t lcl = 0;
    if (clen) {
        memcpy(cl, "Content-Length: ", 16);
        lcl = 16;
        char num[24];
        size_t k = 0, v = op->body_len;
        do num[k++] = (char)('0' + v % 10), v /= 10;
        while (v);
        while (k) cl[lcl++] = num[--k];
        cl[lcl++] = '\r';
        cl[lcl++] = '\n';
    }
    n += lcl + 2 + (clen ? op->body_len : 0);
    h1_write *wr = malloc(sizeof *wr + n);
    if (!wr) return NULL;
    char *d = wr->data;
    memcpy(d, op->method, lm), d += lm, *d++ = ' ';
    memcpy(d, op->h1_target, lt), d += lt;
    memcpy(d, " HTTP/1.1\r\n", 11), d += 11;
    if (!own_host) memcpy(d, c->pool->hostln, c->pool->hostln_len), d += c->pool->hostln_len;
    for (struct curl_slist *h = op->hdrs; h; h = h->next) {
        if (line_is_removal(h->data)) continue;
        size_t l = strlen(h->data);
        memcpy(d, h->data, l), d += l, *d++ = '\r', *d++ = '\n';
    }
    memcpy(d, cl, lcl), d += lcl, *d++ = '\r', *d++ = '\n';
    if (clen && op->body_len) memcpy(d, op->body, op->body_len), d += op->body_len;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    *len = (size_t)(d - wr->data);
    return wr;
}
