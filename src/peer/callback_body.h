/* The callback request of protocol.md §9.9 (envelope, §9.11 compression, POST). Internal. */
#ifndef AW_PEER_CALLBACK_BODY_H
#define AW_PEER_CALLBACK_BODY_H

#include <stddef.h>

#include <curl/curl.h>

#include "app_internal.h"
#include "store/store.h"

/* The parse of a trust's baseuri, kept by a caller that sends many callbacks over that trust (a delivery
 * cursor): each callback's URL is then a copy of it with another path, not a parse of its own (~7 k
 * instructions). Zero-initialise; aw_callback_post fills it on first use; free with aw_callback_target_free.
 * It belongs to the one baseuri it was filled from. */
typedef struct aw_callback_target {
    char *origin;    /* "scheme://host:port" (the peer engine's origin key) */
    char *base_path; /* the baseuri's path, without a trailing slash */
    CURLU *base;     /* the baseuri, parsed */
} aw_callback_target;

void aw_callback_target_free(aw_callback_target *tgt);

/* Start the callback of `job` (kind "resync", "diff_low", or a diff, job->seq its sequence) to the subscriber
 * of publisher record `sub`: POST {t->baseuri}/callbacks/subscriptions/{actor}/{subid} with t's bearer, the
 * §9.9 body (ts and blob are the diff; unused for a resync), compressed as §9.11 allows, in low form with the
 * downgrade headers when a high-granularity diff is over cap_bytes. tgt (NULL: none) caches the parse of
 * t->baseuri for the next callbacks over the same trust (above). opts, cb, ud, op as for
 * aw_peer_request_async (cb exactly once when this returns AW_OK; never otherwise). AW_ENOMEM when the body or
 * URL could not be built (also for a stored string that is not UTF-8); else aw_peer_request_async's status.
 * Loop thread. */
int aw_callback_post(aw_app *app, size_t cap_bytes, const aw_outbox_job *job, const aw_sub_rec *sub,
                     const aw_trust_rec *t, const char *ts, const char *blob, const aw_call_opts *opts,
                     aw_callback_target *tgt, aw_done_cb cb, void *ud, aw_op **op);

#endif
