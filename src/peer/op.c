/* aw_result and aw_op: reference counting (atomic) and accessors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer/internal.h"
#include "util/json.h"

aw_result *aw_result_new(int status)
{
    aw_result *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    atomic_init(&r->refs, 1);
    r->status = status;
    return r;
}

void aw_result_setmsg(aw_result *r, const char *fmt, ...)
{
    if (!r) return;
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(r->message);
    r->message = strdup(buf);
}

void aw_result_setmsg_req(aw_result *r, const char *method, const char *url, const char *why)
{
    if (!r) return;
    size_t a = strlen(method), b = strlen(url), c = strlen(why);
    char *m = malloc(a + b + c + 4);
    if (!m) return; /* the previous message stays */
    memcpy(m, method, a);
    m[a] = ' ';
    memcpy(m + a + 1, url, b);
    memcpy(m + a + 1 + b, ": ", 2);
    memcpy(m + a + 3 + b, why, c + 1);
    free(r->message);
    r->message = m;
}

int aw_result_status(const aw_result *res) { return res ? res->status : AW_EINVAL; }
int aw_result_http_status(const aw_result *res) { return res ? res->http_status : 0; }
/* Parsed on first use (most callers of a fan-out never look at the body). Results may be shared across
 * threads, so the parsed value is published with a compare-and-swap; a losing parser frees its copy. */
json_t *aw_result_json(const aw_result *res)
{
    if (!res) return NULL;
    aw_result *r = (aw_result *)res;
    json_t *j = atomic_load(&r->json);
    if (j || atomic_load(&r->json_tried)) return j;
    if (r->body && r->body_len) {
        json_t *parsed = NULL;
        if (aw_json_parse(r->body, r->body_len, 64, &parsed, NULL) == AW_JSON_OK) {
            json_t *expected = NULL;
            if (!atomic_compare_exchange_strong(&r->json, &expected, parsed)) {
                json_decref(parsed);
                parsed = expected;
            }
            j = parsed;
        }
    }
    atomic_store(&r->json_tried, true);
    return j ? j : atomic_load(&r->json);
}
const char *aw_result_body(const aw_result *res, size_t *len)
{
    if (len) *len = res && res->body ? res->body_len : 0;
    return res ? res->body : NULL;
}
const char *aw_result_location(const aw_result *res) { return res ? res->location : NULL; }
const char *aw_result_message(const aw_result *res)
{
    if (!res) return "";
    return res->message ? res->message : aw_strerror(res->status);
}
uint32_t aw_result_retry_after_ms(const aw_result *res) { return res ? res->retry_after_ms : 0; }
uint32_t aw_result_attempts(const aw_result *res) { return res ? res->attempts : 0; }
aw_remote_state aw_result_remote_state(const aw_result *res) { return res ? res->remote_state : AW_REMOTE_NONE; }
json_t *aw_result_payload(const aw_result *res) { return res ? res->payload : NULL; }

const aw_result *aw_result_ref(const aw_result *res)
{
    if (res) atomic_fetch_add(&((aw_result *)res)->refs, 1);
    return res;
}

void aw_result_unref(const aw_result *cres)
{
    aw_result *res = (aw_result *)cres;
    if (!res || atomic_fetch_sub(&res->refs, 1) != 1) return;
    json_decref(atomic_load(&res->json));
    json_decref(res->payload);
    free(res->body);
    free(res->location);
    free(res->message);
    free(res);
}

void aw_op_free(aw_op *op)
{
    if (op->kind == AW_OPK_REQUEST) aw_req_free_fields(op);
    aw_result_unref(op->res);
    free(op);
}

void aw_op_unref(aw_op *op)
{
    if (!op || atomic_fetch_sub(&op->refs, 1) != 1) return;
    aw_op_free(op);
}
