/* The built-in HTTP/1.1 client for plain-http peers. Internal; loop thread only.
 *
 * request.c sends an attempt here instead of to libcurl when aw_h1_takes() says so: the peer URL is
 * http://, the request has no Basic credentials, no proxy variable was set when the engine started and
 * the app did not set net.curl_for_http. Everything else (https, proxies, Basic) goes through libcurl.
 * Both transports end an attempt through aw_req_attempt_end(), so retries, statuses and messages are
 * decided in one place. */
#ifndef AW_PEER_HTTP1_H
#define AW_PEER_HTTP1_H

#include <stdbool.h>
#include <stdint.h>

#include "peer/internal.h"

typedef struct aw_h1 aw_h1;

/* The client of one engine (on app->loop); NULL on OOM. */
aw_h1 *aw_h1_new(aw_peer_engine *eng, aw_app *app);

/* Whether op's next attempt goes through this client (h1 may be NULL: never). */
bool aw_h1_takes(const aw_h1 *h1, const aw_op *op);

/* Start one attempt of op (state OPS_RUNNING, op->attempts already counted) with `remain_ms` left of
 * its deadline: an idle connection to the origin, or a new one. The attempt ends by
 * aw_req_attempt_end(), never inside this call. */
void aw_h1_start(aw_h1 *h1, aw_op *op, uint64_t remain_ms);

/* Stop op's attempt (cancel, deadline): its connection is closed. Sets op->maybe_sent when the request
 * had been written. No-op when op has no attempt here. */
void aw_h1_abort(aw_op *op);

/* Close idle connections unused for 90 s and forget origins with none left. */
void aw_h1_trim(aw_h1 *h1);

/* Shutdown (after every op was aborted): closes all connections; takes one app->closing_handles count
 * and gives it back (aw_app_handle_closed) once every socket is closed and no name lookup is pending. */
void aw_h1_shutdown(aw_h1 *h1);

/* Free the client's memory (after aw_h1_shutdown has given its count back). NULL is a no-op. */
void aw_h1_free(aw_h1 *h1);

#endif
