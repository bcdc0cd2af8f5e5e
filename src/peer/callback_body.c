/* The callback request of protocol.md §9.9: its envelope, its compression (§9.11) and the POST, for the
 * publisher's delivery and for sending one diff on demand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <actingweb/peer.h>

#include "peer/callback_body.h"
#include "peer/internal.h"
#include "util/json.h"
#include "util/str.h"
#include "util/time.h"
#include "util/zip.h"

#define COMPRESS_MIN_BYTES 1024 /* bodies above this go compressed to subscribers that accept it (§9.11) */

/* A callback body as it goes on the wire: data (malloc'd), its length, and the Content-Encoding header
 * line when compressed (a static string, else NULL). */
typedef struct aw_wire_body {
    char *data;
    size_t len;
    const char *enc;
} aw_wire_body;

/* The §9.9 body of job `j` (kind "resync", "diff_low", or a diff; j->seq its sequence) for publisher record
 * `sub`, as JSON text in *w (w->data NULL when out of memory or when a stored string is not UTF-8). Written
 * straight into a buffer (escaped exactly as jansson does): building a jansson object only to serialise it
 * cost ~8 % of the publisher's instructions per callback. ts and blob are the diff (unused for a resync); the
 * blob is spliced in as stored (aw_json_dump wrote it). A high-granularity diff over cap_bytes goes in low
 * form: *downgraded is set and *orig_size gets its size. */
static void callback_body(aw_app *app, size_t cap_bytes, const aw_outbox_job *j, const aw_sub_rec *sub,
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
    aw_buf_puts(&o, ",\"sequence\":");
    aw_buf_i64(&o, j->seq);
    aw_buf_puts(&o, ",\"granularity\":");
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
    char *actor_url = NULL; /* made only for those */
    if (!strcmp(j->kind, "resync")) {
        char now[32];
        aw_time_iso(now);
        if (!(actor_url = aw_app_actor_url(app, j->actor))) ok = false;
        else aw_buf_printf(&u, "%s/%s", actor_url, sub->target);
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
            if (!(actor_url = aw_app_actor_url(app, j->actor))) ok = false;
            else aw_buf_printf(&u, "%s/subscriptions/%s/%s/%lld", actor_url, sub->peerid, sub->subid, (long long)j->seq);
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
    free(actor_url);
    aw_buf_puts(&o, "}");
    if (!ok || o.oom) {
        aw_buf_free(&o);
        return;
    }
    w->len = o.len;
    w->data = aw_buf_take(&o);
}

/* Compress *w (protocol.md §9.11) when it is over 1 KiB and the subscriber asked for gzip or deflate when
 * subscribing, or its stored meta tags (t->peer_supported) advertise callbackcompression (gzip then): the
 * data is replaced by the compressed bytes and w->enc set. Otherwise, or when compression fails, *w stays
 * as it is. Content and sequence numbers are never changed. */
static void callback_encode(const aw_sub_rec *sub, const aw_trust_rec *t, aw_wire_body *w)
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

void aw_callback_target_free(aw_callback_target *tgt)
{
    if (!tgt) return;
    free(tgt->origin);
    free(tgt->base_path);
    curl_url_cleanup(tgt->base);
    memset(tgt, 0, sizeof *tgt);
}

/* tgt filled from baseuri (parsed once); false when it cannot be (the caller then parses per request). */
static bool target_ready(aw_callback_target *tgt, const char *baseuri)
{
    if (tgt->base) return true;
    char *origin = NULL, *path = NULL;
    CURLU *cu = NULL;
    if (aw_url_origin(baseuri, &origin, &cu) != AW_OK) return false;
    if (curl_url_get(cu, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        free(origin);
        curl_url_cleanup(cu);
        return false;
    }
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] == '/') n--;
    tgt->base_path = strndup(path, n);
    curl_free(path);
    tgt->origin = origin;
    tgt->base = cu;
    if (!tgt->base_path) {
        aw_callback_target_free(tgt);
        return false;
    }
    return true;
}

int aw_callback_post(aw_app *app, size_t cap_bytes, const aw_outbox_job *job, const aw_sub_rec *sub,
                     const aw_trust_rec *t, const char *ts, const char *blob, const aw_call_opts *opts,
                     aw_callback_target *tgt, aw_done_cb cb, void *ud, aw_op **op)
{
    if (op) *op = NULL;
    bool downgraded = false;
    size_t orig = 0;
    aw_wire_body w = {0};
    callback_body(app, cap_bytes, job, sub, ts, blob, &downgraded, &orig, &w);
    /* The callback's path below the subscriber's actor root, for its URL and (tgt) for the parsed one. */
    aw_buf sfx = AW_BUF_INIT;
    aw_buf_puts(&sfx, "/callbacks/subscriptions/");
    aw_buf_puts(&sfx, job->actor);
    aw_buf_puts(&sfx, "/");
    aw_buf_puts(&sfx, job->subid);
    aw_buf u = AW_BUF_INIT;
    aw_buf_puts(&u, t->baseuri);
    if (sfx.data) aw_buf_puts(&u, sfx.data);
    char *url = sfx.oom ? NULL : aw_buf_take(&u);
    aw_buf_free(&u);
    int r = AW_ENOMEM;
    if (w.data && url) {
        callback_encode(sub, t, &w);
        char hdr_size[64];
        /* No Accept header: a callback's answer is read for its status only, and libcurl formats every
         * header line one character at a time (~3 k instructions for this one, on every callback). */
        const char *hdrs[5] = {"Accept:"};
        size_t nh = 1;
        if (downgraded) {
            snprintf(hdr_size, sizeof hdr_size, "X-ActingWeb-Original-Size: %zu", orig);
            hdrs[nh++] = "X-ActingWeb-Granularity-Downgraded: true";
            hdrs[nh++] = hdr_size;
        }
        if (w.enc) hdrs[nh++] = w.enc;
        aw_peer_request pr = {.method = "POST",
                              .url = url,
                              .bearer = t->secret,
                              .body = w.data,
                              .body_len = w.len,
                              .content_type = "application/json",
                              .headers = hdrs,
                              .idempotency = AW_IDEMP_SAFE};
        if (tgt && target_ready(tgt, t->baseuri)) {
            /* The URL without a parse: the trust's parsed baseuri with this callback's path. */
            aw_buf p = AW_BUF_INIT;
            aw_buf_puts(&p, tgt->base_path);
            aw_buf_puts(&p, sfx.data);
            char *origin = strdup(tgt->origin);
            CURLU *cu = curl_url_dup(tgt->base);
            aw_op *o = NULL;
            if (!p.oom && origin && cu && curl_url_set(cu, CURLUPART_PATH, p.data, 0) == CURLUE_OK) {
                r = aw_req_prepare_at(app, &pr, opts, cb, ud, origin, cu, &o);
                if (r == AW_OK) r = aw_req_submit(o, op);
            } else {
                free(origin);
                curl_url_cleanup(cu);
            }
            aw_buf_free(&p);
        } else {
            r = aw_peer_request_async(app, &pr, opts, cb, ud, op);
        }
    }
    free(url);
    aw_buf_free(&sfx);
    free(w.data);
    return r;
}
