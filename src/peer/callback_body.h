/* The callback envelope of protocol.md §9.9 and its compression (§9.11). Internal. */
#ifndef AW_PEER_CALLBACK_BODY_H
#define AW_PEER_CALLBACK_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

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
void aw_callback_body(size_t cap_bytes, const aw_outbox_job *j, const aw_sub_rec *sub, const char *actor_url,
                      const char *ts, const char *blob, bool *downgraded, size_t *orig_size, aw_wire_body *w);

/* Compress *w (protocol.md §9.11) when it is over 1 KiB and the subscriber asked for gzip or deflate when
 * subscribing, or its stored meta tags (t->peer_supported) advertise callbackcompression (gzip then): the
 * data is replaced by the compressed bytes and w->enc set. Otherwise, or when compression fails, *w stays
 * as it is. Content and sequence numbers are never changed. */
void aw_callback_encode(const aw_sub_rec *sub, const aw_trust_rec *t, aw_wire_body *w);

#endif
