/* The callback envelope of protocol.md §9.9 and its compression (§9.11), for the publisher's delivery. */
#include <stdlib.h>
#include <string.h>

#include "peer/callback_body.h"
#include "util/json.h"
#include "util/str.h"
#include "util/time.h"
#include "util/zip.h"

#define COMPRESS_MIN_BYTES 1024 /* bodies above this go compressed to subscribers that accept it (§9.11) */

void aw_callback_body(size_t cap_bytes, const aw_outbox_job *j, const aw_sub_rec *sub, const char *actor_url,
                      const char *ts, const char *blob, bool *downgraded, size_t *orig_size, aw_wire_body *w)
{
    memset(w, 0, sizeof *w);
    aw_buf o = AW_BUF_INIT;
    bool ok = true;
    aw_buf_puts(&o, "{\"id\":");
    ok = ok && aw_json_buf_str(&o, j->actor);
    aw_buf_puts(&o, ",\"subscriptionid\":");
    ok = ok && aw_json_buf_str(&o, sub->subid);
    aw_buf_puts(&o, ",\"target\":");
    ok = ok && aw_json_buf_str(&o, sub->target);
    aw_buf_printf(&o, ",\"sequence\":%lld,\"granularity\":", (long long)j->seq);
    ok = ok && aw_json_buf_str(&o, sub->granularity);
    if (*sub->subtarget) {
        aw_buf_puts(&o, ",\"subtarget\":");
        ok = ok && aw_json_buf_str(&o, sub->subtarget);
    }
    if (*sub->resource) {
        aw_buf_puts(&o, ",\"resource\":");
        ok = ok && aw_json_buf_str(&o, sub->resource);
    }
    aw_buf u = AW_BUF_INIT; /* the url of a resync or low-granularity callback */
    if (!strcmp(j->kind, "resync")) {
        char now[32];
        aw_time_iso(now);
        aw_buf_printf(&u, "%s/%s", actor_url, sub->target);
        if (*sub->subtarget) aw_buf_printf(&u, "/%s", sub->subtarget);
        aw_buf_puts(&o, ",\"timestamp\":");
        ok = ok && aw_json_buf_str(&o, now);
        aw_buf_puts(&o, ",\"type\":\"resync\"");
    } else {
        aw_buf_puts(&o, ",\"timestamp\":");
        ok = ok && aw_json_buf_str(&o, ts);
        size_t blen = strlen(blob);
        bool low = !strcmp(sub->granularity, "low") || !strcmp(j->kind, "diff_low");
        if (!low && blen + 512 > cap_bytes) {
            low = true;
            *downgraded = true;
            *orig_size = blen;
        }
        if (low) {
            aw_buf_printf(&u, "%s/subscriptions/%s/%s/%lld", actor_url, sub->peerid, sub->subid, (long long)j->seq);
        } else {
            aw_buf_puts(&o, ",\"data\":");
            aw_buf_append(&o, blob, blen);
        }
    }
    if (u.len || u.oom) {
        aw_buf_puts(&o, ",\"url\":");
        ok = ok && !u.oom && aw_json_buf_str(&o, u.data);
    }
    aw_buf_free(&u);
    aw_buf_puts(&o, "}");
    if (!ok || o.oom) {
        aw_buf_free(&o);
        return;
    }
    w->len = o.len;
    w->data = aw_buf_take(&o);
}

void aw_callback_encode(const aw_sub_rec *sub, const aw_trust_rec *t, aw_wire_body *w)
{
    w->enc = NULL;
    if (w->len <= COMPRESS_MIN_BYTES) return;
    aw_zip_kind kind = AW_ZIP_IDENTITY;
    const char *ae = sub->accept_encoding ? sub->accept_encoding : "";
    if (aw_list_has(ae, "gzip") || (t->peer_supported && aw_list_has(t->peer_supported, "callbackcompression")))
        kind = AW_ZIP_GZIP;
    else if (aw_list_has(ae, "deflate"))
        kind = AW_ZIP_DEFLATE;
    if (kind == AW_ZIP_IDENTITY) return;
    char *z = NULL;
    size_t zlen = 0;
    if (aw_zip_encode(kind, w->data, w->len, &z, &zlen) != AW_OK) return; /* send it plain */
    free(w->data);
    w->data = z;
    w->len = zlen;
    w->enc = kind == AW_ZIP_GZIP ? "Content-Encoding: gzip" : "Content-Encoding: deflate";
}
